// The LevelDB adapter (Debian's libleveldb-dev 1.23), configured as ../shared/WORKLOADS.md fixes
// it: LevelDB's defaults (4 MiB write buffer, 2 MiB table files, its internal 8 MiB block cache,
// no bloom filter) with compression turned off. A Put is durable only when EngineOptions::sync.
//
// Thread safety: one thread drives an engine object, as kvbench does.
#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/status.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "common/check.h"
#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

// LevelDB's fixed compaction triggers (db/dbformat.h and db/version_set.cc of 1.23), which its
// public API does not expose: level 0 is compacted once it holds 4 files, level L >= 1 once it
// holds 10^L MiB or more. Level 6, the last, is never a compaction source.
constexpr int kNumLevels = 7;
constexpr int kL0CompactionTrigger = 4;
double MaxBytesForLevel(int level) {
  double bytes = 10.0 * 1048576.0;
  for (int l = level; l > 1; --l) bytes *= 10;
  return bytes;
}

Status ToStatus(const leveldb::Status& s, std::string_view op) {
  std::string message = "leveldb " + std::string(op) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(message));
  if (s.IsNotSupportedError()) return Status::NotSupported(std::move(message));
  return Status::IOError(std::move(message));
}

leveldb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const leveldb::Slice& s) { return {s.data(), s.size()}; }

// Whether some level is past its compaction trigger, by LevelDB's own scoring, read from the
// "leveldb.sstables" property: a "--- level N ---" line, then one line per table file,
// " <number>:<size>[<smallest> .. <largest>]" (keys are escaped, so a line never breaks inside
// one). Returns false if the text cannot be parsed, so a format change cannot hang the caller.
bool CompactionWanted(std::string_view sstables) {
  std::array<std::uint64_t, kNumLevels> bytes{};
  std::array<int, kNumLevels> files{};
  int level = -1;
  while (!sstables.empty()) {
    const std::size_t eol = std::min(sstables.find('\n'), sstables.size());
    std::string_view line = sstables.substr(0, eol);
    sstables.remove_prefix(std::min(eol + 1, sstables.size()));
    constexpr std::string_view kLevelPrefix = "--- level ";
    if (line.starts_with(kLevelPrefix)) {
      line.remove_prefix(kLevelPrefix.size());
      if (std::from_chars(line.data(), line.data() + line.size(), level).ec != std::errc()) {
        return false;
      }
      if (level < 0 || level >= kNumLevels) return false;
    } else if (line.starts_with(' ') && level >= 0) {
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return false;
      std::uint64_t size = 0;
      const char* first = line.data() + colon + 1;
      if (std::from_chars(first, line.data() + line.size(), size).ec != std::errc()) return false;
      bytes[level] += size;
      ++files[level];
    }
  }
  if (files[0] >= kL0CompactionTrigger) return true;
  for (int l = 1; l < kNumLevels - 1; ++l) {
    if (static_cast<double>(bytes[l]) >= MaxBytesForLevel(l)) return true;
  }
  return false;
}

class LevelDbEngine final : public Engine {
 public:
  std::string name() const override { return "leveldb"; }
  std::string settings() const override {
    return "defaults (4 MiB write buffer, 2 MiB files, 8 MiB block cache, no filter), "
           "compression off";
  }

  Status Open(const EngineOptions& options) override {
    KV_CHECK(db_ == nullptr, "leveldb: Open called twice");
    leveldb::Options db_options;
    db_options.create_if_missing = true;
    db_options.compression = leveldb::kNoCompression;
    // Everything else is LevelDB's default: write_buffer_size 4 MiB, max_file_size 2 MiB,
    // block_cache nullptr (an internal 8 MiB LRU cache), filter_policy nullptr.
    write_options_.sync = options.sync;
    leveldb::DB* db = nullptr;
    const leveldb::Status s = leveldb::DB::Open(db_options, options.dir, &db);
    if (!s.ok()) return ToStatus(s, "open " + options.dir);
    db_.reset(db);
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    KV_CHECK(db_ != nullptr, "leveldb: Put on a store not open");
    const leveldb::Status s = db_->Put(write_options_, ToSlice(key), ToSlice(value));
    return s.ok() ? Status::Ok() : ToStatus(s, "put");
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    KV_CHECK(db_ != nullptr, "leveldb: Get on a store not open");
    const leveldb::Status s = db_->Get(leveldb::ReadOptions(), ToSlice(key), value);
    *found = s.ok();
    if (s.ok() || s.IsNotFound()) return Status::Ok();
    return ToStatus(s, "get");
  }

  bool SupportsScan() const override { return true; }

  Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) override {
    KV_CHECK(db_ != nullptr, "leveldb: Scan on a store not open");
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    std::size_t read = 0;
    if (count > 0) {
      if (start.empty()) {
        it->SeekToFirst();
      } else {
        it->Seek(ToSlice(start));
      }
      for (; it->Valid(); it->Next()) {
        if (visit) visit(ToView(it->key()), ToView(it->value()));
        if (++read == count) break;
      }
    }
    if (!it->status().ok()) return ToStatus(it->status(), "scan");
    return read;
  }

  // LevelDB exposes no "idle" property, so this infers it: idle once (a) no level is past its
  // compaction trigger by LevelDB's own scoring (see CompactionWanted) and (b) the
  // "leveldb.stats" text, which changes whenever a memtable flush or a compaction completes,
  // has not changed for 200 ms (which catches a flush of the immutable memtable in progress,
  // something no property shows). Polled every 10 ms; gives up, returning OK, at `max`. It never
  // forces a flush or a compaction: that would change the work measured.
  Status WaitForIdle(std::chrono::milliseconds max) override {
    KV_CHECK(db_ != nullptr, "leveldb: WaitForIdle on a store not open");
    using Clock = std::chrono::steady_clock;
    constexpr auto kPoll = std::chrono::milliseconds(10);
    constexpr auto kQuiet = std::chrono::milliseconds(200);
    const Clock::time_point deadline = Clock::now() + max;
    std::string stats;
    std::string sstables;
    std::string last_stats;
    Clock::time_point last_change = Clock::now();
    while (true) {
      if (!db_->GetProperty("leveldb.stats", &stats) ||
          !db_->GetProperty("leveldb.sstables", &sstables)) {
        return Status::IOError("leveldb wait for idle: properties not available");
      }
      const Clock::time_point now = Clock::now();
      if (stats != last_stats) {
        last_stats = std::move(stats);
        last_change = now;
      } else if (now - last_change >= kQuiet && !CompactionWanted(sstables)) {
        return Status::Ok();
      }
      if (now >= deadline) return Status::Ok();
      std::this_thread::sleep_for(kPoll);
    }
  }

  // leveldb.stats is a table (level, files, size, compaction time, MB read, MB written); one line
  // here, level by level, in the same words as the course's engines.
  std::string DescribeState() override {
    std::string stats;
    if (db_ == nullptr || !db_->GetProperty("leveldb.stats", &stats)) return {};
    std::string out;
    std::istringstream lines(stats);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      int level = 0, files = 0;
      double size_mb = 0, seconds = 0, read_mb = 0, written_mb = 0;
      if (!(fields >> level >> files >> size_mb >> seconds >> read_mb >> written_mb)) continue;
      out += fmt::format("{}L{}: {} files {:.1f} MiB, compactions read {:.0f} wrote {:.0f} MiB",
                         out.empty() ? "" : " | ", level, files, size_mb, read_mb, written_mb);
    }
    return out;
  }

  Status Close() override {
    db_.reset();  // LevelDB's destructor waits for the background compaction to stop.
    return Status::Ok();
  }

 private:
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions write_options_;
};

}  // namespace

std::unique_ptr<Engine> NewLevelDbEngine() { return std::make_unique<LevelDbEngine>(); }

}  // namespace kv::bench
