// The adapter for the course's own ordered engines (phase2_storage/ordered_engine.h): the LSM
// tree and the B+tree. One class serves both, since both implement the same interface; only how
// the engine is opened and described differs.
//
// Thread safety: one thread drives an engine object, as kvbench does.
#include <functional>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "common/check.h"
#include "common/posix_file_system.h"
#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"
#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/lsm/lsm_engine.h"

namespace kv::bench {
namespace {

using storage::OrderedEngine;

class OrderedEngineAdapter final : public Engine {
 public:
  using Opener = std::function<Result<std::unique_ptr<OrderedEngine>>(FileSystem&, std::string)>;
  OrderedEngineAdapter(std::string name, std::string settings, Opener open)
      : name_(std::move(name)), settings_(std::move(settings)), open_(std::move(open)) {}

  std::string name() const override { return name_; }
  std::string settings() const override { return settings_; }

  Status Open(const EngineOptions& options) override {
    KV_CHECK(engine_ == nullptr, "Open called twice");
    write_options_.sync = options.sync;
    KV_ASSIGN_OR_RETURN(engine_, open_(*fs_, options.dir));
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    return engine_->Put(write_options_, key, value);
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    auto got = engine_->Get({}, key);
    *found = got.has_value();
    if (got) {
      *value = std::move(*got);
      return Status::Ok();
    }
    return got.error().code() == StatusCode::kNotFound ? Status::Ok() : got.error();
  }

  bool SupportsScan() const override { return true; }

  Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) override {
    storage::ReadOptions ro;
    ro.fill_cache = count < 1000;  // A full scan would only push the hot blocks out.
    auto it = engine_->NewIterator(ro);
    std::size_t read = 0;
    if (count > 0) {
      if (start.empty()) {
        it->SeekToFirst();
      } else {
        it->Seek(start);
      }
      for (; it->Valid(); it->Next()) {
        if (visit) visit(it->key(), it->value());
        if (++read == count) break;
      }
    }
    KV_RETURN_IF_ERROR(it->status());
    return read;
  }

  Status WaitForIdle(std::chrono::milliseconds) override { return engine_->WaitForIdle(); }

  std::string DescribeState() override { return engine_->DescribeState(); }
  std::optional<std::uint64_t> BlocksRead() override { return engine_->BlocksRead(); }

  Status Close() override {
    engine_.reset();
    return Status::Ok();
  }

 private:
  const std::string name_;
  const std::string settings_;
  const Opener open_;
  std::unique_ptr<FileSystem> fs_ = NewPosixFileSystem();
  std::unique_ptr<OrderedEngine> engine_;
  storage::WriteOptions write_options_;
};

}  // namespace

std::unique_ptr<Engine> NewLsmEngine() {
  return std::make_unique<OrderedEngineAdapter>(
      "lsm",
      "4 MiB write buffer, 2 MiB files, 8 MiB block cache, bloom filter 10 bits/key, leveled "
      "compaction, no compression",
      [](FileSystem& fs, std::string dir) -> Result<std::unique_ptr<OrderedEngine>> {
        KV_ASSIGN_OR_RETURN(auto engine, storage::lsm::LsmEngine::Open(fs, std::move(dir)));
        return std::unique_ptr<OrderedEngine>(std::move(engine));
      });
}

std::unique_ptr<Engine> NewLsmTieredEngine() {
  return std::make_unique<OrderedEngineAdapter>(
      "lsm-tiered",
      "as lsm, but size-tiered compaction (tiers of 4 runs within 0.5-1.5x of their average "
      "size; one table per run)",
      [](FileSystem& fs, std::string dir) -> Result<std::unique_ptr<OrderedEngine>> {
        storage::lsm::LsmOptions options;
        options.compaction_style = storage::lsm::LsmOptions::CompactionStyle::kSizeTiered;
        KV_ASSIGN_OR_RETURN(auto engine,
                            storage::lsm::LsmEngine::Open(fs, std::move(dir), options));
        return std::unique_ptr<OrderedEngine>(std::move(engine));
      });
}

std::unique_ptr<Engine> NewBTreeEngine() {
  // WORKLOADS.md's budget for the references: 4 KiB pages as SQLite's, and a cache as large as
  // LevelDB's block cache. The tree syncs its log only for a write with WriteOptions::sync (the
  // adapter asks for it in fillsync) and at checkpoints, which also sync its page file.
  storage::btree::BTreeOptions options;
  options.page_size = 4096;
  options.buffer_pool_bytes = 8 << 20;
  std::string settings = fmt::format(
      "{} KiB pages, {} MiB buffer pool (CLOCK), redo log with a checkpoint every {} MiB of log, "
      "log synced when the workload syncs, before a page newer than the last sync is written back "
      "and at checkpoints (which also sync the pages), no compression",
      options.page_size >> 10, options.buffer_pool_bytes >> 20, options.checkpoint_log_bytes >> 20);
  return std::make_unique<OrderedEngineAdapter>(
      "btree", std::move(settings),
      [options](FileSystem& fs, std::string dir) -> Result<std::unique_ptr<OrderedEngine>> {
        KV_ASSIGN_OR_RETURN(auto engine,
                            storage::btree::BTreeEngine::Open(fs, std::move(dir), options));
        return std::unique_ptr<OrderedEngine>(std::move(engine));
      });
}

}  // namespace kv::bench
