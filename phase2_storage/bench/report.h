// The benchmark report: docs/benchmarks.md with its plots, regenerated from one kvbench run.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "phase2_storage/bench/result.h"

namespace kv::bench {

// Writes the report to `markdown_path` (e.g. docs/benchmarks.md) and its plots, as SVG drawn by
// gnuplot, into the folder `benchmarks/` beside it (e.g. docs/benchmarks/*.svg), replacing what
// was there. kNotSupported naming the package (gnuplot-nox) if gnuplot is not installed.
Status WriteReport(const std::vector<WorkloadResult>& results, const MachineInfo& machine,
                   const std::string& markdown_path);

}  // namespace kv::bench
