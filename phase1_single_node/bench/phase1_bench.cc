// Phase 1 benchmarks (Google Benchmark). Targets, from the course's phase 1 issue:
//   * durable commits/s at 32 committers >= 10x the raw fdatasync rate of the same disk
//     (BM_DurableCommit/reserve_kib:1024/threads:32 vs BM_RawFdatasync, both in this run;
//     BM_RawFdatasyncInPlace is the raw rate of the cheaper sync the reserving log does, and
//     reserve_kib:0 the log that only appends);
//   * recovery of 1M keys x 100-byte values from checkpoint + log >= 1M records/s
//     (BM_Recovery, counter records_per_sec);
//   * memory per key for 1M keys <= 3x the raw key + value bytes (BM_MemoryPerKey, counter
//     heap_over_raw).
// Run: build/release/phase1_single_node/phase1_bench [--benchmark_filter=...]
// The disk benchmarks write under $KV_BENCH_DIR (default: /tmp).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"
#include "common/mem_file_system.h"
#include "common/posix_file_system.h"
#include "common/random.h"
#include "phase1_single_node/store.h"
#include "phase1_single_node/wal.h"

namespace {

using kv::phase1::Store;
using kv::phase1::StoreOptions;

std::string BenchDir(std::string_view name) {
  const char* base = std::getenv("KV_BENCH_DIR");
  std::string dir = fmt::format("{}/kv_bench_{}_{}", base ? base : "/tmp", name, ::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

std::string Key(std::uint64_t i) { return fmt::format("key{:012}", i); }

void Check(const kv::Status& s) { KV_CHECK(s.ok(), s.ToString()); }

// In-memory transaction throughput: each transaction reads one key and writes another.
void BM_InMemoryTxn(benchmark::State& state) {
  static std::unique_ptr<kv::FileSystem> fs;
  static std::unique_ptr<Store> store;
  if (state.thread_index() == 0) {
    store.reset();  // The previous run's store holds a lock in the previous file system.
    fs = kv::NewMemFileSystem();
    StoreOptions options;
    options.sync = kv::phase1::SyncPolicy::kNone;
    store = std::move(Store::Open(*fs, "db", options).value());
  }
  kv::Random rng(static_cast<std::uint64_t>(state.thread_index()) + 1);
  const std::string value(100, 'v');
  std::uint64_t conflicts = 0;
  for (auto _ : state) {
    auto t = store->Begin();
    benchmark::DoNotOptimize(t.Get(Key(rng.Uniform(100'000))));
    Check(t.Put(Key(rng.Uniform(100'000)), value));
    kv::Status s = t.Commit();
    if (s.code() == kv::StatusCode::kConflict) ++conflicts;
  }
  state.counters["conflicts"] = static_cast<double>(conflicts);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InMemoryTxn)->Threads(1)->Threads(2)->UseRealTime();

// The floor group commit is measured against: 100-byte appends, each followed by fdatasync.
void BM_RawFdatasync(benchmark::State& state) {
  std::string dir = BenchDir("raw");
  std::filesystem::create_directories(dir);
  int fd = ::open((dir + "/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  KV_CHECK(fd >= 0, "open");
  const std::string record(100, 'r');
  for (auto _ : state) {
    KV_CHECK(::write(fd, record.data(), record.size()) == 100, "write");
    KV_CHECK(::fdatasync(fd) == 0, "fdatasync");
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawFdatasync)->UseRealTime()->MinTime(2.0);

// The same, but each 100-byte record overwrites zeros already synced into the file (what a log
// that reserves room does): the fdatasync has no new file size to write.
void BM_RawFdatasyncInPlace(benchmark::State& state) {
  std::string dir = BenchDir("raw_in_place");
  std::filesystem::create_directories(dir);
  int fd = ::open((dir + "/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  KV_CHECK(fd >= 0, "open");
  constexpr std::uint64_t kRoom = 64 << 20;
  const std::string zeros(1 << 20, '\0');
  for (std::uint64_t at = 0; at < kRoom; at += zeros.size()) {
    KV_CHECK(::write(fd, zeros.data(), zeros.size()) == static_cast<ssize_t>(zeros.size()),
             "write");
  }
  KV_CHECK(::fdatasync(fd) == 0, "fdatasync");
  const std::string record(100, 'r');
  std::uint64_t offset = 0;
  for (auto _ : state) {
    KV_CHECK(::pwrite(fd, record.data(), record.size(), static_cast<off_t>(offset)) == 100,
             "pwrite");
    KV_CHECK(::fdatasync(fd) == 0, "fdatasync");
    offset = (offset + record.size()) % kRoom;
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawFdatasyncInPlace)->UseRealTime()->MinTime(2.0);

// Durable commits (SyncPolicy::kAlways) from N threads, each committing single-key
// transactions on its own keys (no conflicts): what group commit buys. The argument is the
// log's StoreOptions::wal_reserve_bytes in KiB: 0 for a log that only appends, 1024 (the
// default) for one that reserves room ahead.
void BM_DurableCommit(benchmark::State& state) {
  static std::unique_ptr<kv::FileSystem> fs;
  static std::unique_ptr<Store> store;
  static std::string dir;
  if (state.thread_index() == 0) {
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    dir = BenchDir("durable");
    fs = kv::NewPosixFileSystem();
    StoreOptions options;
    options.wal_reserve_bytes = static_cast<std::uint64_t>(state.range(0)) << 10;
    store = std::move(Store::Open(*fs, dir, options).value());
  }
  const std::string value(100, 'v');
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto t = store->Begin();
    Check(t.Put(fmt::format("t{}-{}", state.thread_index(), i++), value));
    Check(t.Commit());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    auto stats = store->stats();
    state.counters["commits_per_sync"] =
        static_cast<double>(stats.commits) /
        static_cast<double>(std::max<std::uint64_t>(1, stats.wal_syncs));
  }
}
BENCHMARK(BM_DurableCommit)
    ->ArgName("reserve_kib")
    ->Arg(0)
    ->Arg(1024)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->Threads(64)
    ->UseRealTime()
    ->MinTime(2.0);

// The log alone: N threads each committing one encoded single-write transaction through
// WalWriter, with no transaction layer around it. Next to BM_DurableCommit it separates what the
// log's group commit costs from what the store adds (its locks, the engine, the bookkeeping).
// It reserves room as the store's log does by default.
void BM_WalGroupCommit(benchmark::State& state) {
  static std::unique_ptr<kv::FileSystem> fs;
  static std::unique_ptr<kv::phase1::WalWriter> wal;
  static std::string dir;
  if (state.thread_index() == 0) {
    wal.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    dir = BenchDir("wal");
    std::filesystem::create_directories(dir);
    fs = kv::NewPosixFileSystem();
    wal = std::move(kv::phase1::WalWriter::Create(*fs, dir, 1, kv::phase1::SyncPolicy::kAlways, 0,
                                                  StoreOptions{}.wal_reserve_bytes)
                        .value());
  }
  const std::string value(100, 'v');
  std::uint64_t i = 0;
  for (auto _ : state) {
    std::string bytes;
    kv::phase1::Write w{fmt::format("t{}-{}", state.thread_index(), i++), value};
    kv::phase1::EncodeTransaction(bytes, i, i, std::span(&w, 1));
    Check(wal->Commit(std::move(bytes), nullptr));
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["commits_per_sync"] =
        static_cast<double>(wal->commits_written()) /
        static_cast<double>(std::max<std::uint64_t>(1, wal->syncs()));
  }
}
BENCHMARK(BM_WalGroupCommit)->Threads(1)->Threads(32)->UseRealTime()->MinTime(2.0);

// Builds a store of `keys` keys x 100-byte values: half in a checkpoint, half in the log after it.
std::string BuildStore(kv::FileSystem& fs, std::uint64_t keys) {
  std::string dir = BenchDir("recovery");
  StoreOptions options;
  options.sync = kv::phase1::SyncPolicy::kNone;
  auto store = std::move(Store::Open(fs, dir, options).value());
  const std::string value(100, 'v');
  constexpr std::uint64_t kPerTxn = 100;
  for (std::uint64_t i = 0; i < keys; i += kPerTxn) {
    auto t = store->Begin();
    for (std::uint64_t j = i; j < std::min(keys, i + kPerTxn); ++j) Check(t.Put(Key(j), value));
    Check(t.Commit());
    if (i + kPerTxn == keys / 2) Check(store->Checkpoint());
  }
  return dir;
}

void BM_Recovery(benchmark::State& state) {
  const auto keys = static_cast<std::uint64_t>(state.range(0));
  auto fs = kv::NewPosixFileSystem();
  std::string dir = BuildStore(*fs, keys);
  std::uint64_t records = 0;
  for (auto _ : state) {
    auto store = std::move(Store::Open(*fs, dir).value());
    // Only Open() is timed: not the check, and not tearing down a million keys.
    state.PauseTiming();
    const auto& report = store->recovery_report();
    records = report.checkpoint.entries + report.wal.records;
    KV_CHECK(store->stats().engine.keys == keys, "recovered every key");
    store.reset();
    state.ResumeTiming();
  }
  state.counters["records"] = static_cast<double>(records);
  state.counters["records_per_sec"] =
      benchmark::Counter(static_cast<double>(records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Recovery)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Heap bytes held per key after loading `keys` keys (15-byte keys, 100-byte values), measured
// with mallinfo2(): bytes in use in the heap plus in mmap'ed blocks (large arrays such as the hash
// table's buckets), before and after. The log goes to disk, so what is measured is the store's
// in-memory state.
std::size_t HeapInUse() {
  struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void BM_MemoryPerKey(benchmark::State& state) {
  const auto keys = static_cast<std::uint64_t>(state.range(0));
  const std::string value(100, 'v');
  double per_key = 0;
  auto fs = kv::NewPosixFileSystem();
  for (auto _ : state) {
    std::string dir = BenchDir("memory");
    StoreOptions options;
    options.sync = kv::phase1::SyncPolicy::kNone;
    auto store = std::move(Store::Open(*fs, dir, options).value());
    ::malloc_trim(0);
    std::size_t before = HeapInUse();
    for (std::uint64_t i = 0; i < keys; i += 100) {
      auto t = store->Begin();
      for (std::uint64_t j = i; j < std::min(keys, i + 100); ++j) Check(t.Put(Key(j), value));
      Check(t.Commit());
    }
    per_key = static_cast<double>(HeapInUse() - before) / static_cast<double>(keys);
    store.reset();
    std::filesystem::remove_all(dir);
  }
  const double raw = static_cast<double>(Key(0).size() + value.size());
  state.counters["heap_bytes_per_key"] = per_key;
  state.counters["raw_bytes_per_key"] = raw;
  state.counters["heap_over_raw"] = per_key / raw;
}
BENCHMARK(BM_MemoryPerKey)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
