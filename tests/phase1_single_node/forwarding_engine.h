// A VersionedEngine that hands every call to phase 1's hash-table engine, for tests that watch or
// interfere with one kind of call: derive, override that one, and call the base for the rest.
#pragma once

#include <memory>

#include "phase1_single_node/mem_engine.h"
#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1::testing {

class ForwardingEngine : public VersionedEngine {
 public:
  ForwardingEngine() : engine_(NewMemVersionedEngine()) {}

  Result<std::optional<std::string>> Get(std::string_view key, Timestamp read_ts) const override {
    return engine_->Get(key, read_ts);
  }
  Result<Timestamp> LatestVersion(std::string_view key) const override {
    return engine_->LatestVersion(key);
  }
  Status Apply(std::span<Write> writes, Timestamp commit_ts) override {
    return engine_->Apply(writes, commit_ts);
  }
  void Prune(std::string_view key, Timestamp watermark) override { engine_->Prune(key, watermark); }
  void PruneAll(Timestamp watermark) override { engine_->PruneAll(watermark); }
  Status ForEachVisible(
      Timestamp read_ts,
      const std::function<Status(std::string_view, std::string_view)>& fn) const override {
    return engine_->ForEachVisible(read_ts, fn);
  }
  Status Scan(std::string_view start, std::string_view end, Timestamp read_ts, std::size_t limit,
              const std::function<Status(std::string_view, std::string_view)>& fn) const override {
    return engine_->Scan(start, end, read_ts, limit, fn);
  }
  EngineStats stats() const override { return engine_->stats(); }

 private:
  std::unique_ptr<VersionedEngine> engine_;
};

}  // namespace kv::phase1::testing
