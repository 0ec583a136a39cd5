#include "phase2_storage/bench/workloads.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include <unistd.h>

#include <fmt/format.h>

#include "phase2_storage/bench/generators.h"
#include "phase2_storage/bench/histogram.h"
#include "phase2_storage/bench/metrics.h"

namespace kv::bench {

const std::vector<std::string>& AllWorkloads() {
  static const std::vector<std::string> all = {
      "fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readseq", "seekrandom",
      "ycsb-a",  "ycsb-b",     "ycsb-c",    "ycsb-e",     "ycsb-f",      "fillsync"};
  return all;
}

bool IsWorkload(const std::string& name) {
  const auto& all = AllWorkloads();
  return std::find(all.begin(), all.end(), name) != all.end();
}

bool WritesData(const std::string& w) {
  return w == "fillseq" || w == "fillrandom" || w == "overwrite" || w == "fillsync" ||
         w == "ycsb-a" || w == "ycsb-b" || w == "ycsb-e" || w == "ycsb-f";
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSettleTime = std::chrono::milliseconds(2000);  // WORKLOADS.md: "or 2 s"

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// What one workload's loop measured.
struct Measure {
  Histogram latency;
  bool per_op_latency = true;
  std::uint64_t ops = 0;
  std::uint64_t user_bytes = 0;     // Key and value bytes moved, read or written.
  std::uint64_t bytes_written = 0;  // Key and value bytes put.
  double seconds = 0;
};

// Runs the workloads of one engine, keeping the store between those that share it.
class Runner {
 public:
  Runner(const EngineInfo& info, const RunConfig& config)
      : info_(info),
        config_(config),
        record_bytes_(kKeyBytes + config.value_size),
        supports_scan_(info.make()->SupportsScan()) {}
  ~Runner() { CloseStore(); }

  WorkloadResult Run(const std::string& workload);

 private:
  Status FreshStore(bool sync);
  Status EnsureLoaded();
  void CloseStore();
  Status RunLoop(const std::string& workload, Measure& m);

  // Times one operation into `m`.
  template <typename Op>
  Status Timed(Measure& m, Op&& op) {
    const auto t0 = Clock::now();
    Status s = op();
    m.latency.Record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
    ++m.ops;
    return s;
  }
  Status PutOp(Measure& m, std::string_view key, std::string_view value) {
    m.user_bytes += key.size() + value.size();
    m.bytes_written += key.size() + value.size();
    return engine_->Put(key, value);
  }
  // A get that must find `key` with a value of the configured size: a benchmark that does not
  // check what it reads can report a fast engine that returns nothing.
  Status GetHitOp(Measure& m, std::string_view key) {
    bool found = false;
    KV_RETURN_IF_ERROR(engine_->Get(key, &value_, &found));
    if (!found) return Status::Corruption(fmt::format("get of stored key {} found nothing", key));
    if (value_.size() != config_.value_size) {
      return Status::Corruption(fmt::format("get of {} returned {} bytes, not {}", key,
                                            value_.size(), config_.value_size));
    }
    m.user_bytes += key.size() + value_.size();
    return Status::Ok();
  }
  Status ScanOp(Measure& m, std::string_view start, std::size_t count, std::uint64_t* entries) {
    std::uint64_t bytes = 0;
    KV_ASSIGN_OR_RETURN(std::size_t n,
                        engine_->Scan(start, count, [&](std::string_view k, std::string_view v) {
                          bytes += k.size() + v.size();
                        }));
    m.user_bytes += bytes;
    if (entries != nullptr) *entries = n;
    return Status::Ok();
  }

  const EngineInfo& info_;
  const RunConfig& config_;
  const std::uint64_t record_bytes_;
  const bool supports_scan_;
  std::unique_ptr<Engine> engine_;
  std::string dir_;
  int stores_made_ = 0;
  bool loaded_ = false;     // The store holds the N records fillrandom wrote.
  std::uint64_t live_ = 0;  // Records in the store.
  std::string value_;       // Buffer for gets.
};

Status Runner::FreshStore(bool sync) {
  CloseStore();
  dir_ = fmt::format("{}/{}-{}", config_.dir, info_.name, ++stores_made_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", dir_, ec.message()));
  engine_ = info_.make();
  KV_RETURN_IF_ERROR(engine_->Open(EngineOptions{dir_, sync}));
  return Status::Ok();
}

void Runner::CloseStore() {
  if (engine_ != nullptr) {
    (void)engine_->Close();
    engine_.reset();
  }
  if (!dir_.empty() && !config_.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  dir_.clear();
  loaded_ = false;
  live_ = 0;
}

Status Runner::EnsureLoaded() {
  if (loaded_) return Status::Ok();
  KV_RETURN_IF_ERROR(FreshStore(/*sync=*/false));
  Measure ignored;
  KV_RETURN_IF_ERROR(RunLoop("fillrandom", ignored));
  return engine_->WaitForIdle(kSettleTime);
}

Status Runner::RunLoop(const std::string& w, Measure& m) {
  const std::uint64_t n = config_.num;
  const std::size_t vs = config_.value_size;
  SplitMix64 rng(WorkloadSeed(config_.seed, w));
  ValueSource values(WorkloadSeed(config_.seed, w + "/values"));
  char key[kKeyBytes];
  auto key_of = [&](std::uint64_t i) {
    FormatKey(i, key);
    return std::string_view(key, kKeyBytes);
  };
  auto start = Clock::now();
  auto finish = [&] { m.seconds = Seconds(Clock::now() - start); };

  // The fill workloads start from the fresh store Run() (or EnsureLoaded()) just made.
  if (w == "fillseq" || w == "fillrandom") {
    std::vector<std::uint64_t> order;
    if (w == "fillrandom") order = RandomPermutation(n, rng);
    start = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t k = order.empty() ? i : order[i];
      KV_RETURN_IF_ERROR(Timed(m, [&] { return PutOp(m, key_of(k), values.Next(vs)); }));
    }
    finish();
    live_ = n;
    loaded_ = w == "fillrandom";
    return Status::Ok();
  }
  if (w == "fillsync") {
    std::vector<bool> present(n);
    start = Clock::now();
    for (std::uint64_t i = 0; i < config_.sync_puts; ++i) {
      const std::uint64_t k = rng.Uniform(n);
      present[k] = true;
      KV_RETURN_IF_ERROR(Timed(m, [&] { return PutOp(m, key_of(k), values.Next(vs)); }));
    }
    finish();
    live_ = static_cast<std::uint64_t>(std::count(present.begin(), present.end(), true));
    return Status::Ok();
  }

  // Everything else runs on the store fillrandom built.
  if (w == "overwrite") {
    for (std::uint64_t i = 0; i < n; ++i) {
      KV_RETURN_IF_ERROR(
          Timed(m, [&] { return PutOp(m, key_of(rng.Uniform(n)), values.Next(vs)); }));
    }
  } else if (w == "readrandom") {
    for (std::uint64_t i = 0; i < n; ++i) {
      KV_RETURN_IF_ERROR(Timed(m, [&] { return GetHitOp(m, key_of(rng.Uniform(n))); }));
    }
  } else if (w == "readmissing") {
    for (std::uint64_t i = 0; i < n; ++i) {
      Status s = Timed(m, [&]() -> Status {
        FormatKey(rng.Uniform(n), key);
        char missing[kKeyBytes + 1];
        std::copy(key, key + kKeyBytes, missing);
        missing[kKeyBytes] = '.';
        bool found = true;
        KV_RETURN_IF_ERROR(
            engine_->Get(std::string_view(missing, sizeof missing), &value_, &found));
        if (found) return Status::Corruption("get of a missing key found a value");
        m.user_bytes += sizeof missing;
        return Status::Ok();
      });
      KV_RETURN_IF_ERROR(s);
    }
  } else if (w == "readseq") {
    m.per_op_latency = false;
    std::uint64_t entries = 0;
    KV_RETURN_IF_ERROR(ScanOp(m, "", std::numeric_limits<std::size_t>::max(), &entries));
    m.ops = entries;
    if (entries != live_) {
      finish();
      return Status::Corruption(
          fmt::format("a full scan read {} entries; the store holds {}", entries, live_));
    }
  } else if (w == "seekrandom") {
    for (std::uint64_t i = 0; i < config_.seeks; ++i) {
      KV_RETURN_IF_ERROR(Timed(m, [&] { return ScanOp(m, key_of(rng.Uniform(n)), 11, nullptr); }));
    }
  } else if (w.starts_with("ycsb-")) {
    ScrambledZipfian zipf(n);
    const char mix = w.back();
    std::uint64_t inserted = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const double dice = rng.NextDouble();
      Status s;
      if (mix == 'e') {
        if (dice < 0.95) {
          const std::uint64_t start_key = zipf.Next(rng);
          const std::size_t count = 1 + 1 + rng.Uniform(100);  // seek + 1..100 next calls
          s = Timed(m, [&] { return ScanOp(m, key_of(start_key), count, nullptr); });
        } else {
          const std::uint64_t k = n + inserted++;  // E's inserts continue past N
          s = Timed(m, [&] { return PutOp(m, key_of(k), values.Next(vs)); });
        }
      } else {
        const double read_share = mix == 'a' ? 0.5 : mix == 'b' ? 0.95 : mix == 'c' ? 1.0 : 0.5;
        const std::uint64_t k = zipf.Next(rng);
        if (dice < read_share) {
          s = Timed(m, [&] { return GetHitOp(m, key_of(k)); });
        } else if (mix == 'f') {  // read-modify-write: one operation
          s = Timed(m, [&]() -> Status {
            KV_RETURN_IF_ERROR(GetHitOp(m, key_of(k)));
            return PutOp(m, key_of(k), values.Next(vs));
          });
        } else {
          s = Timed(m, [&] { return PutOp(m, key_of(k), values.Next(vs)); });
        }
      }
      KV_RETURN_IF_ERROR(s);
    }
    live_ += inserted;
  } else {
    return Status::InvalidArgument(fmt::format("unknown workload '{}'", w));
  }
  finish();
  return Status::Ok();
}

WorkloadResult Runner::Run(const std::string& w) {
  WorkloadResult r;
  r.engine = info_.name;
  r.workload = w;
  r.num = config_.num;
  r.value_size = config_.value_size;
  auto fail = [&](const Status& s) {
    r.status = "error";
    r.error = s.ToString();
    CloseStore();  // A store that failed mid-workload is not trusted for the next one.
    return r;
  };

  const bool scans = w == "readseq" || w == "seekrandom" || w == "ycsb-e";
  const bool fresh = w == "fillseq" || w == "fillrandom" || w == "fillsync";
  if (scans && !supports_scan_) {
    r.status = "n/a";
    return r;
  }
  // Made before the baseline below: removing the previous store's files cancels its dirty pages
  // (cancelled_write_bytes), which must not be charged to this workload.
  if (Status s = fresh ? FreshStore(/*sync=*/w == "fillsync") : EnsureLoaded(); !s.ok()) {
    return fail(s);
  }

  // Start from a clean page cache: write back every dirty page (sync(2)) so that (1) a page this
  // workload dirties again counts again — /proc/self/io counts a page when it turns dirty, not
  // each time it is written while dirty —, (2) deleting files dirtied by earlier workloads cannot
  // cancel bytes against this one, and (3) earlier workloads' write-back does not compete with
  // this one's fdatasync calls.
  ::sync();
  (void)ResetPeakRss();
  auto written_before = ProcessDiskWriteBytes();
  const std::optional<std::uint64_t> blocks_before = engine_->BlocksRead();
  Measure m;
  if (Status s = RunLoop(w, m); !s.ok()) return fail(s);
  r.settings = engine_->settings();
  r.ops = m.ops;
  r.seconds = m.seconds;
  r.ops_per_sec = m.seconds > 0 ? static_cast<double>(m.ops) / m.seconds : 0;
  r.mb_per_sec = m.seconds > 0 ? static_cast<double>(m.user_bytes) / m.seconds / (1 << 20) : 0;
  if (m.per_op_latency && m.latency.count() > 0) {
    r.p50_us = m.latency.Percentile(0.50) / 1000.0;
    r.p99_us = m.latency.Percentile(0.99) / 1000.0;
    r.p999_us = m.latency.Percentile(0.999) / 1000.0;
  }
  if (!WritesData(w) && m.ops > 0) {
    const std::optional<std::uint64_t> blocks_after = engine_->BlocksRead();
    if (blocks_before && blocks_after) {
      r.read_amp = static_cast<double>(*blocks_after - *blocks_before) / static_cast<double>(m.ops);
    }
  }
  if (WritesData(w)) {
    // Let background work settle, then count what it wrote too.
    if (Status s = engine_->WaitForIdle(kSettleTime); !s.ok()) return fail(s);
    auto written_after = ProcessDiskWriteBytes();
    r.engine_state = engine_->DescribeState();
    if (written_before && written_after && m.bytes_written > 0) {
      // Net of cancelled bytes the difference can dip below zero (files deleted before their
      // pages reached the disk); the disk then saw nothing of this workload.
      const double disk =
          std::max(0.0, static_cast<double>(*written_after) - static_cast<double>(*written_before));
      r.write_amp = disk / static_cast<double>(m.bytes_written);
    }
    if (auto used = DiskUsageBytes(dir_); used && live_ > 0) {
      r.space_amp = static_cast<double>(*used) / static_cast<double>(live_ * record_bytes_);
    }
  }
  if (auto rss = PeakRssMiB()) r.peak_rss_mb = *rss;
  return r;
}

}  // namespace

std::vector<WorkloadResult> RunEngine(const EngineInfo& info,
                                      const std::vector<std::string>& workloads,
                                      const RunConfig& config,
                                      const std::function<void(const WorkloadResult&)>& progress) {
  std::vector<WorkloadResult> results;
  Runner runner(info, config);
  for (const std::string& w : AllWorkloads()) {
    if (std::find(workloads.begin(), workloads.end(), w) == workloads.end()) continue;
    results.push_back(runner.Run(w));
    if (progress) progress(results.back());
  }
  return results;
}

}  // namespace kv::bench
