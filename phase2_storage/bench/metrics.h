// What the process costs the machine, read from Linux's /proc: disk bytes written, peak memory,
// bytes a directory takes on disk; and a description of the machine for the report.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "phase2_storage/bench/result.h"

namespace kv::bench {

// Bytes this process has caused to be written to storage so far: /proc/self/io's write_bytes
// minus cancelled_write_bytes (dirty page-cache pages later truncated or deleted before they
// reached the disk). Counted when a page is dirtied, so it includes what the kernel writes back
// later on the process's behalf — and the writes of every thread, background compactions too.
Result<std::uint64_t> ProcessDiskWriteBytes();

// Resets the process's peak resident set (writes 5 to /proc/self/clear_refs), so that the next
// PeakRssMiB() covers only what happens after this call.
Status ResetPeakRss();
// VmHWM of /proc/self/status, in MiB.
Result<double> PeakRssMiB();

// Bytes `dir` takes on disk, counting allocated blocks of every file under it (what `du` says).
Result<std::uint64_t> DiskUsageBytes(const std::string& dir);

MachineInfo DescribeMachine(const std::string& data_dir, const std::string& command);

}  // namespace kv::bench
