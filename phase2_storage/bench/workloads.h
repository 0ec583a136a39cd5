// The workloads of ../shared/WORKLOADS.md, run on one engine at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "phase2_storage/bench/engine.h"
#include "phase2_storage/bench/result.h"

namespace kv::bench {

struct RunConfig {
  std::uint64_t num = 1'000'000;  // N
  std::size_t value_size = 100;
  std::uint64_t seed = 301;
  std::uint64_t seeks = 100'000;     // seekrandom's operation count
  std::uint64_t sync_puts = 10'000;  // fillsync's operation count
  std::string dir;                   // Each store gets a fresh folder under it.
  bool keep = false;                 // Keep the stores' folders after the run.
};

// Every workload, in the order kvbench runs them: fillseq, fillrandom, overwrite, readrandom,
// readmissing, readseq, seekrandom, ycsb-a, ycsb-b, ycsb-c, ycsb-e, ycsb-f, fillsync.
const std::vector<std::string>& AllWorkloads();
bool IsWorkload(const std::string& name);
// Whether a workload writes (and so gets write and space amplification).
bool WritesData(const std::string& workload);

// Runs `workloads` (any order; run in AllWorkloads() order) on a new engine from `info`. A
// workload that needs a loaded store (overwrite, the reads, YCSB) runs on the store fillrandom
// built; if fillrandom was not asked for, it is run first, untimed and unreported. `progress` is
// called with each result as soon as it is known.
std::vector<WorkloadResult> RunEngine(const EngineInfo& info,
                                      const std::vector<std::string>& workloads,
                                      const RunConfig& config,
                                      const std::function<void(const WorkloadResult&)>& progress);

}  // namespace kv::bench
