// The RocksDB adapter (Debian's librocksdb-dev 7.8), configured as ../shared/WORKLOADS.md fixes
// it: RocksDB's defaults plus a 64 MiB write buffer, compression off, leveled compaction, an
// 8 MiB LRU block cache set explicitly, no filter. A Put is durable only when
// EngineOptions::sync.
//
// Thread safety: one thread drives an engine object, as kvbench does.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>
#include <rocksdb/table.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "common/check.h"
#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

Status ToStatus(const rocksdb::Status& s, std::string_view op) {
  std::string message = "rocksdb " + std::string(op) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(message));
  if (s.IsNotSupported()) return Status::NotSupported(std::move(message));
  if (s.IsNoSpace()) return Status::NoSpace(std::move(message));
  return Status::IOError(std::move(message));
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

class RocksDbEngine final : public Engine {
 public:
  ~RocksDbEngine() override {
    if (db_ != nullptr) (void)Close();
  }

  std::string name() const override { return "rocksdb"; }
  std::string settings() const override {
    return "defaults + 64 MiB write buffer, leveled compaction, 8 MiB block cache, no filter, "
           "compression off";
  }

  Status Open(const EngineOptions& options) override {
    KV_CHECK(db_ == nullptr, "rocksdb: Open called twice");
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    db_options.write_buffer_size = 64 << 20;
    db_options.compression = rocksdb::kNoCompression;
    db_options.compaction_style = rocksdb::kCompactionStyleLevel;
    rocksdb::BlockBasedTableOptions table_options;
    table_options.block_cache = rocksdb::NewLRUCache(8 << 20);
    table_options.filter_policy = nullptr;
    db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    write_options_.sync = options.sync;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, &db);
    if (!s.ok()) return ToStatus(s, "open " + options.dir);
    db_.reset(db);
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    KV_CHECK(db_ != nullptr, "rocksdb: Put on a store not open");
    const rocksdb::Status s = db_->Put(write_options_, ToSlice(key), ToSlice(value));
    return s.ok() ? Status::Ok() : ToStatus(s, "put");
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    KV_CHECK(db_ != nullptr, "rocksdb: Get on a store not open");
    const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), value);
    *found = s.ok();
    if (s.ok() || s.IsNotFound()) return Status::Ok();
    return ToStatus(s, "get");
  }

  bool SupportsScan() const override { return true; }

  Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) override {
    KV_CHECK(db_ != nullptr, "rocksdb: Scan on a store not open");
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
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

  // Polls every 10 ms until no flush or compaction is running or pending, by RocksDB's own
  // properties, or until `max` has passed (then returns OK: the caller measures what is there).
  // It never forces a flush or a compaction: data left in the memtable stays there, as the
  // reference figures ("compaction unfinished") assume.
  Status WaitForIdle(std::chrono::milliseconds max) override {
    KV_CHECK(db_ != nullptr, "rocksdb: WaitForIdle on a store not open");
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline = Clock::now() + max;
    while (true) {
      bool busy = false;
      for (const std::string& property : {rocksdb::DB::Properties::kNumRunningCompactions,
                                          rocksdb::DB::Properties::kNumRunningFlushes,
                                          rocksdb::DB::Properties::kCompactionPending,
                                          rocksdb::DB::Properties::kMemTableFlushPending}) {
        std::uint64_t value = 0;
        if (!db_->GetIntProperty(property, &value)) {
          return Status::IOError("rocksdb wait for idle: no property " + property);
        }
        if (value != 0) busy = true;
      }
      if (!busy || Clock::now() >= deadline) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Status Close() override {
    if (db_ == nullptr) return Status::Ok();
    // DB::Close waits for background work to stop; it fails only if snapshots are still held
    // (never here) or on an I/O error. The handle is deleted either way.
    const rocksdb::Status s = db_->Close();
    db_.reset();
    return s.ok() ? Status::Ok() : ToStatus(s, "close");
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
};

}  // namespace

std::unique_ptr<Engine> NewRocksDbEngine() { return std::make_unique<RocksDbEngine>(); }

}  // namespace kv::bench
