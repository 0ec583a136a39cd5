// The adapter for phase 1's store (`mem`): its MVCC hash table in memory, behind its write-ahead
// log. One transaction per operation, as a client of the store would do it. No ordered scans:
// a hash table has no key order, so the driver reports the scan workloads as n/a.
#include <fmt/format.h>

#include "common/check.h"
#include "common/posix_file_system.h"
#include "phase1_single_node/store.h"
#include "phase2_storage/bench/adapters.h"

namespace kv::bench {
namespace {

class MemEngine final : public Engine {
 public:
  std::string name() const override { return "mem"; }
  std::string settings() const override {
    return fmt::format(
        "phase 1 Store: MVCC hash table in memory + WAL, one transaction per operation, sync {} "
        "(always in fillsync), no checkpoints during the run",
        sync_ ? "always" : "none");
  }

  Status Open(const EngineOptions& options) override {
    sync_ = options.sync;
    fs_ = NewPosixFileSystem();
    phase1::StoreOptions store_options;
    store_options.sync = options.sync ? phase1::SyncPolicy::kAlways : phase1::SyncPolicy::kNone;
    KV_ASSIGN_OR_RETURN(store_, phase1::Store::Open(*fs_, options.dir, store_options));
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    KV_CHECK(store_ != nullptr, "mem: Put before Open");
    auto t = store_->Begin();
    KV_RETURN_IF_ERROR(t.Put(key, value));
    return t.Commit();
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    KV_CHECK(store_ != nullptr, "mem: Get before Open");
    auto t = store_->Begin();
    KV_ASSIGN_OR_RETURN(std::optional<std::string> v, t.Get(key));
    KV_RETURN_IF_ERROR(t.Commit());
    *found = v.has_value();
    if (v) *value = std::move(*v);
    return Status::Ok();
  }

  bool SupportsScan() const override { return false; }
  Result<std::size_t> Scan(
      std::string_view, std::size_t,
      const std::function<void(std::string_view, std::string_view)>&) override {
    return Status::NotSupported("mem: phase 1's hash table has no key order");
  }

  Status WaitForIdle(std::chrono::milliseconds) override { return Status::Ok(); }
  Status Close() override {
    store_.reset();
    return Status::Ok();
  }

 private:
  bool sync_ = false;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<phase1::Store> store_;
};

}  // namespace

std::unique_ptr<Engine> NewMemEngine() { return std::make_unique<MemEngine>(); }

}  // namespace kv::bench
