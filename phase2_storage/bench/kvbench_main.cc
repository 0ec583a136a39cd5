// kvbench: the storage benchmark driver. Runs the workloads of ../shared/WORKLOADS.md on the
// course's engines and on the production engines built from Debian's packages, one engine after
// another in one process, and prints a table; optionally JSON and the report (docs/benchmarks.md).
//
//   kvbench --engines mem,leveldb,rocksdb,lmdb,sqlite --workloads fillrandom,readrandom
//           [--num N] [--value-size B] [--json FILE] [--report docs/benchmarks.md]
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "phase2_storage/bench/engine.h"
#include "phase2_storage/bench/metrics.h"
#include "phase2_storage/bench/report.h"
#include "phase2_storage/bench/workloads.h"

namespace kv::bench {
namespace {

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(std::optional<double> v) {
  return v ? fmt::format("{:.6g}", *v) : std::string("null");
}

std::string ToJson(const std::vector<WorkloadResult>& results) {
  std::string out = "[\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const WorkloadResult& r = results[i];
    const bool ok = r.status == "ok";
    auto num = [&](double v) { return ok ? JsonNumber(v) : std::string("null"); };
    out += fmt::format(
        "  {{\"engine\": {}, \"workload\": {}, \"status\": {}, \"error\": {}, \"num\": {}, "
        "\"value_size\": {}, \"ops\": {}, \"seconds\": {}, \"ops_per_sec\": {}, "
        "\"mb_per_sec\": {}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, "
        "\"write_amp\": {}, \"space_amp\": {}, \"read_amp\": {}, \"peak_rss_mb\": {}, "
        "\"settings\": {}, "
        "\"engine_state\": {}}}{}\n",
        JsonString(r.engine), JsonString(r.workload), JsonString(r.status),
        r.error.empty() ? "null" : JsonString(r.error), r.num, r.value_size,
        ok ? fmt::format("{}", r.ops) : "null", num(r.seconds), num(r.ops_per_sec),
        num(r.mb_per_sec), JsonNumber(r.p50_us), JsonNumber(r.p99_us), JsonNumber(r.p999_us),
        JsonNumber(r.write_amp), JsonNumber(r.space_amp), JsonNumber(r.read_amp),
        JsonNumber(r.peak_rss_mb), r.settings.empty() ? "null" : JsonString(r.settings),
        r.engine_state.empty() ? "null" : JsonString(r.engine_state),
        i + 1 < results.size() ? "," : "");
  }
  return out + "]\n";
}

std::string Cell(std::optional<double> v, int decimals) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : std::string("-");
}

std::string Rate(double v) {
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

void PrintHeader() {
  fmt::print("{:<12} {:<10} {:>9} {:>8} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6} {:>8} {:>8}\n",
             "workload", "engine", "ops/s", "MiB/s", "p50 us", "p99 us", "p99.9 us", "w-amp",
             "s-amp", "r-amp", "RSS MiB", "x leveldb");
}

void PrintRow(const WorkloadResult& r, std::optional<double> leveldb_ops) {
  if (r.status != "ok") {
    fmt::print("{:<12} {:<10} {}\n", r.workload, r.engine,
               r.status == "n/a" ? "n/a" : "ERROR " + r.error);
  } else {
    std::string ratio = "-";
    if (leveldb_ops && *leveldb_ops > 0)
      ratio = fmt::format("{:.2f}", r.ops_per_sec / *leveldb_ops);
    fmt::print("{:<12} {:<10} {:>9} {:>8.1f} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6} {:>8} {:>8}\n",
               r.workload, r.engine, Rate(r.ops_per_sec), r.mb_per_sec, Cell(r.p50_us, 2),
               Cell(r.p99_us, 2), Cell(r.p999_us, 1), Cell(r.write_amp, 2), Cell(r.space_amp, 2),
               Cell(r.read_amp, 2), Cell(r.peak_rss_mb, 0), ratio);
  }
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  CLI::App app{"kvbench: the workloads of WORKLOADS.md on every engine, one after another"};
  std::string engines_arg = "all", workloads_arg = "all", json_path, report_path, dir;
  RunConfig config;
  app.add_option("--engines", engines_arg,
                 "comma-separated engines, or all: mem,lsm,lsm-tiered,btree,leveldb,rocksdb,"
                 "lmdb,sqlite");
  app.add_option("--workloads", workloads_arg,
                 "comma-separated workloads, or all: fillseq,fillrandom,overwrite,readrandom,"
                 "readmissing,readseq,seekrandom,ycsb-a,ycsb-b,ycsb-c,ycsb-e,ycsb-f,fillsync");
  app.add_option("--num", config.num, "N: records (default 1000000)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--value-size", config.value_size, "bytes per value (default 100)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--seed", config.seed, "run seed (default 301)");
  app.add_option("--seeks", config.seeks, "seekrandom operations (default 100000)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--sync-puts", config.sync_puts, "fillsync operations (default 10000)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--dir", dir, "where the stores are made (default: $TMPDIR or /tmp)");
  app.add_flag("--keep", config.keep, "keep the stores' folders after the run");
  app.add_option("--json", json_path, "write the results as JSON to this file");
  app.add_option("--report", report_path,
                 "write the report (markdown + SVG plots beside it), e.g. docs/benchmarks.md");
  CLI11_PARSE(app, argc, argv);

  // Which engines and workloads, checked before anything runs.
  std::vector<const EngineInfo*> engines;
  for (const std::string& name : SplitList(engines_arg)) {
    bool known = false;
    for (const EngineInfo& e : KnownEngines()) {
      if (name == "all" || name == e.name) {
        known = true;
        if (!e.available) {
          fmt::print(stderr, "kvbench: skipping {}: {}\n", e.name, e.why_not);
        } else {
          engines.push_back(&e);
        }
      }
    }
    if (!known) {
      fmt::print(stderr, "kvbench: unknown engine '{}'\n", name);
      return 2;
    }
  }
  std::vector<std::string> workloads;
  for (const std::string& name : SplitList(workloads_arg)) {
    if (name == "all") {
      workloads = AllWorkloads();
    } else if (!IsWorkload(name)) {
      fmt::print(stderr, "kvbench: unknown workload '{}'\n", name);
      return 2;
    } else {
      workloads.push_back(name);
    }
  }
  if (engines.empty() || workloads.empty()) {
    fmt::print(stderr, "kvbench: nothing to run\n");
    return 2;
  }

  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  config.dir = fmt::format("{}/kvbench-{}", dir, ::getpid());
  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec) {
    fmt::print(stderr, "kvbench: cannot create {}: {}\n", config.dir, ec.message());
    return 2;
  }
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  const MachineInfo machine = DescribeMachine(config.dir, command);
  fmt::print("kvbench: N = {}, values of {} bytes, seed {}; {} on {} ({} cores), {} in {}\n",
             config.num, config.value_size, config.seed, machine.os, machine.cpu, machine.cores,
             machine.filesystem, config.dir);

  std::vector<WorkloadResult> results;
  for (const EngineInfo* e : engines) {
    fmt::print(stderr, "kvbench: {}\n", e->name);
    auto rows = RunEngine(*e, workloads, config, [](const WorkloadResult& r) {
      if (r.status == "ok") {
        fmt::print(stderr, "  {:<12} {:>9} ops/s\n", r.workload, Rate(r.ops_per_sec));
        if (!r.engine_state.empty()) fmt::print(stderr, "    {}\n", r.engine_state);
      } else {
        fmt::print(stderr, "  {:<12} {} {}\n", r.workload, r.status, r.error);
      }
    });
    results.insert(results.end(), rows.begin(), rows.end());
  }
  if (!config.keep) std::filesystem::remove_all(config.dir, ec);

  // The table, by workload, each engine's ops/s also as a ratio to LevelDB's.
  PrintHeader();
  bool errors = false;
  for (const std::string& w : AllWorkloads()) {
    std::optional<double> leveldb_ops;
    for (const auto& r : results) {
      if (r.workload == w && r.engine == "leveldb" && r.status == "ok") leveldb_ops = r.ops_per_sec;
    }
    for (const auto& r : results) {
      if (r.workload != w) continue;
      PrintRow(r, leveldb_ops);
      errors |= r.status == "error";
    }
  }

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << ToJson(results);
    if (!out.flush()) {
      fmt::print(stderr, "kvbench: cannot write {}\n", json_path);
      return 1;
    }
  }
  if (!report_path.empty()) {
    if (Status s = WriteReport(results, machine, report_path); !s.ok()) {
      fmt::print(stderr, "kvbench: report: {}\n", s.ToString());
      return 1;
    }
    fmt::print(stderr, "kvbench: wrote {}\n", report_path);
  }
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace kv::bench

int main(int argc, char** argv) { return kv::bench::Main(argc, argv); }
