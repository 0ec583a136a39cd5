// What kvbench measures for one (engine, workload) pair, and the machine it ran on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kv::bench {

struct WorkloadResult {
  std::string engine;
  std::string workload;
  // "ok"; "n/a" when the engine cannot run the workload (e.g. a scan on a hash table);
  // "error" when it failed (then `error` says why). Only "ok" rows carry figures.
  std::string status = "ok";
  std::string error;
  std::string settings;          // The engine's settings line.
  std::uint64_t num = 0;         // N, records in the store the workload starts from (or fills).
  std::uint64_t value_size = 0;  // Bytes per value.
  std::uint64_t ops = 0;         // Operations timed (entries read, for readseq).
  double seconds = 0;            // Time the operations took.
  double ops_per_sec = 0;
  double mb_per_sec = 0;  // User bytes (key + value) moved per second, in MiB (2^20 bytes).
  // Per-operation latency in microseconds; not measured for readseq.
  std::optional<double> p50_us, p99_us, p999_us;
  // Only for workloads that write: bytes the process wrote to disk / user bytes written, and
  // bytes of the store's directory on disk / logical bytes (live records x (key + value)).
  std::optional<double> write_amp, space_amp;
  // Only for workloads that read, and only for engines that count (Engine::BlocksRead): data
  // blocks or pages the engine read from its files (from the disk or the OS's page cache) per
  // operation.
  std::optional<double> read_amp;
  std::optional<double> peak_rss_mb;  // Peak resident set of the process during the workload, MiB.
  // After a workload that writes, once background work settled: the engine's own account of
  // its shape (levels, files, flushes, compactions), if it gives one. Empty otherwise.
  std::string engine_state;
};

struct MachineInfo {
  std::string date;        // UTC, ISO 8601
  std::string cpu;         // /proc/cpuinfo "model name"
  unsigned cores = 0;      // std::thread::hardware_concurrency
  double memory_gib = 0;   // MemTotal
  std::string kernel;      // uname -r
  std::string os;          // PRETTY_NAME of /etc/os-release
  std::string filesystem;  // type of the file system holding the data directory, e.g. ext4
  std::string data_dir;
  std::string command;  // The kvbench command line that produced the results.
};

}  // namespace kv::bench
