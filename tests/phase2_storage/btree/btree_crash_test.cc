// Crash and I/O-fault tests of the B+tree (docs/testing.md, "The power-cut model").
//
// A deterministic workload (puts of small and overflow-sized values, overwrites, deletes that
// empty whole subtrees, batches, one write in eight a sync write, Sync, checkpoints and
// reopens) runs on a FaultInjectionFileSystem with 1 KiB pages and a 64-frame pool, so it goes
// through splits, merges, redistributions, evictions and checkpoints. The model records the
// state after every operation; a recovered tree must show exactly one of those states, no
// earlier than the last durable point (a sync write, Sync, a checkpoint or an Open that
// returned OK), and no later than the operation in flight when the power went. Its invariants
// must hold.
//   * BTreePowerCut: the power fails at every sync point of the workload (page file, log and
//     directory syncs alike), dropping all unsynced data, and then keeping seeded random parts
//     of it (whole, torn or lost writes: torn pages);
//   * ...and again at every sync point of the Open that recovers from such a cut;
//   * BTreeIoFault: every sync and every write fails in turn: the operation returns the error,
//     and a restart (the process dies, the disk keeps what was written) shows an allowed state.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/fault_file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/power_cut.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"
#include "tests/phase2_storage/btree/small_btree_options.h"

namespace kv::storage::btree {
namespace {

using State = std::map<std::string, std::string>;

struct Op {
  enum class Kind { kPut, kDelete, kBatch, kSync, kCheckpoint, kReopen };
  Kind kind = Kind::kPut;
  bool sync = false;
  WriteBatch batch;
  bool IsDurablePoint() const {
    return kind == Kind::kSync || kind == Kind::kCheckpoint || kind == Kind::kReopen ||
           ((kind == Kind::kPut || kind == Kind::kDelete || kind == Kind::kBatch) && sync);
  }
};

// Fills the tree, overwrites, then deletes most of it (merges all the way up), refilling a bit.
constexpr std::uint64_t kKeys = 500;

std::vector<Op> MakeWorkload(int n, std::uint64_t seed) {
  Random rnd(seed);
  std::vector<Op> ops;
  auto key = [&](int i) {
    std::string k = fmt::format("key{:04}", i);
    if (i % 5 == 2) k.append(60 + i % 90, 'p');
    return k;
  };
  auto value = [&](int step) {
    const std::size_t size = rnd.Uniform(10) == 0 ? 1500 + rnd.Uniform(2500) : rnd.Uniform(120);
    return fmt::format("s{}-", step) + std::string(size, static_cast<char>('a' + step % 26));
  };
  for (int step = 0; step < n; ++step) {
    Op op;
    const bool deleting = step > n / 2 && step < n * 7 / 8;
    const int k = static_cast<int>(rnd.Uniform(kKeys));
    const auto r = rnd.Uniform(100);
    if (r < 3) {
      op.kind = Op::Kind::kCheckpoint;
    } else if (r < 5) {
      op.kind = Op::Kind::kSync;
    } else if (r < 6) {
      op.kind = Op::Kind::kReopen;
    } else if (r < 16) {
      op.kind = Op::Kind::kBatch;
      for (int i = 0, m = 1 + static_cast<int>(rnd.Uniform(6)); i < m; ++i) {
        const int bk = static_cast<int>(rnd.Uniform(kKeys));
        if (deleting || rnd.Uniform(3) == 0) {
          op.batch.Delete(key(bk));
        } else {
          op.batch.Put(key(bk), value(step));
        }
      }
    } else if (deleting ? r < 85 : r < 30) {
      op.kind = Op::Kind::kDelete;
      op.batch.Delete(key(k));
    } else {
      op.kind = Op::Kind::kPut;
      op.batch.Put(key(k), value(step));
    }
    op.sync = rnd.Uniform(8) == 0;
    ops.push_back(std::move(op));
  }
  return ops;
}

State Apply(State s, const Op& op) {
  for (const auto& e : op.batch.entries()) {
    if (e.op == WriteBatch::Op::kPut) {
      s[e.key] = e.value;
    } else {
      s.erase(e.key);
    }
  }
  return s;
}

Result<State> ReadAll(const BTreeEngine& engine) {
  State s;
  auto it = engine.NewIterator({});
  for (it->SeekToFirst(); it->Valid(); it->Next()) s.emplace(it->key(), it->value());
  KV_RETURN_IF_ERROR(it->status());
  return s;
}

struct RunResult {
  std::size_t done = 0;     // Operations that returned OK.
  std::size_t durable = 0;  // states[durable] survives any power cut from here on.
  bool failed = false;      // An operation failed (then `done` is its index).
};

class BTreeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ops_ = MakeWorkload(600, 42);
    states_.push_back({});
    for (const Op& op : ops_) states_.push_back(Apply(states_.back(), op));
  }

  // Runs the workload on `fs` until an operation fails.
  RunResult Run(FaultInjectionFileSystem& fs) {
    RunResult r;
    auto engine = BTreeEngine::Open(fs, "db", SmallBTreeOptions());
    if (!engine.has_value()) {
      r.failed = true;
      return r;
    }
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      const Op& op = ops_[i];
      Status s;
      switch (op.kind) {
        case Op::Kind::kPut:
        case Op::Kind::kDelete:
        case Op::Kind::kBatch: {
          WriteOptions wo;
          wo.sync = op.sync;
          s = (*engine)->Write(wo, op.batch);
          break;
        }
        case Op::Kind::kSync:
          s = (*engine)->Sync();
          break;
        case Op::Kind::kCheckpoint:
          s = (*engine)->Checkpoint();
          break;
        case Op::Kind::kReopen:
          engine->reset();
          engine = BTreeEngine::Open(fs, "db", SmallBTreeOptions());
          s = engine.status();
          break;
      }
      if (!s.ok()) {
        r.failed = true;
        r.done = i;
        return r;
      }
      r.done = i + 1;
      if (op.IsDurablePoint()) r.durable = i + 1;
    }
    last_stats_ = (*engine)->stats();
    return r;
  }

  // The recovered tree's state is states_[k] for some k in [low, high], and its invariants hold.
  void ExpectAllowedState(FileSystem& fs, std::size_t low, std::size_t high) {
    ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(fs, "db", SmallBTreeOptions()));
    ASSERT_OK(engine->CheckInvariants());
    ASSERT_OK_AND_ASSIGN(State got, ReadAll(*engine));
    for (std::size_t k = low; k <= high && k < states_.size(); ++k) {
      if (states_[k] == got) return;
    }
    std::string matches;
    for (std::size_t k = 0; k < states_.size(); ++k) {
      if (states_[k] == got) matches += fmt::format(" {}", k);
    }
    ADD_FAILURE() << "recovered state (" << got.size() << " keys) is none of states " << low << ".."
                  << high << "; it equals states [" << matches << " ]";
  }

  std::vector<Op> ops_;
  std::vector<State> states_;
  BTreeEngine::Stats last_stats_;  // Of the last run that finished the workload.
};

// How many syncs the whole workload makes.
std::uint64_t CountSyncs(const std::function<RunResult(FaultInjectionFileSystem&)>& run) {
  auto base = NewMemFileSystem();
  FaultInjectionFileSystem fs(*base);
  run(fs);
  return fs.sync_count();
}

TEST_F(BTreeCrashTest, PowerCutAtEverySyncPoint_AcknowledgedDurableKept_StateIsAnOpPrefix) {
  auto run = [&](FaultInjectionFileSystem& fs) { return Run(fs); };
  const std::uint64_t syncs = CountSyncs(run);
  ASSERT_GT(syncs, 100u);
  // The workload reaches what the cuts must hit (counted since the last reopen).
  EXPECT_GT(last_stats_.splits, 0u);
  EXPECT_GT(last_stats_.merges, 0u);
  EXPECT_GT(last_stats_.pool.evictions, 0u);
  EXPECT_GT(last_stats_.checkpoints, 1u);
  EXPECT_GT(last_stats_.page_images, 0u);
  std::uint64_t torn_recoveries = 0;
  for (const auto& mode : kv::testing::PowerCutModes(2)) {
    for (std::uint64_t n = 1; n <= syncs + 1; ++n) {
      SCOPED_TRACE(fmt::format("{} at sync {} of {}", mode.name, n, syncs));
      auto base = NewMemFileSystem();
      FaultInjectionFileSystem fs(*base);
      fs.CrashAtSync(n);
      const RunResult r = Run(fs);
      ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed * 1000 + n));
      {
        auto engine = BTreeEngine::Open(fs, "db", SmallBTreeOptions());
        if (engine.has_value() && (*engine)->recovery_note().find("torn") != std::string::npos) {
          ++torn_recoveries;
        }
      }
      // The tree reopened once already above; that open checkpointed, so its state is durable.
      ExpectAllowedState(fs, r.durable, r.failed ? r.done + 1 : r.done);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
  EXPECT_GT(torn_recoveries, 0u)
      << "no cut left a torn log tail: the test does not reach that case";
}

// Cut the power, then cut it again at every sync point of the Open that recovers: the next Open
// must show what a clean recovery would have.
TEST_F(BTreeCrashTest, PowerCutInsideTheRecoveringOpen_AtEachOfItsSyncPoints_SameAsACleanOpen) {
  auto run = [&](FaultInjectionFileSystem& fs) { return Run(fs); };
  const std::uint64_t syncs = CountSyncs(run);
  for (std::uint64_t n = 7; n <= syncs; n += 23) {
    SCOPED_TRACE(fmt::format("first cut at sync {}", n));
    auto base = NewMemFileSystem();
    FaultInjectionFileSystem fs(*base);
    fs.CrashAtSync(n);
    Run(fs);
    ASSERT_OK(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, n));
    // What a clean recovery shows.
    State clean;
    std::uint64_t open_syncs = 0;
    {
      const std::uint64_t before = fs.sync_count();
      ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(fs, "db", SmallBTreeOptions()));
      open_syncs = fs.sync_count() - before;  // Counted before the close's checkpoint.
      ASSERT_OK_AND_ASSIGN(clean, ReadAll(*engine));
    }
    ASSERT_GT(open_syncs, 2u);
    // Again from the same cut disk, crashing at each sync of the recovering Open.
    for (std::uint64_t m = 1; m <= open_syncs; ++m) {
      SCOPED_TRACE(fmt::format("second cut at sync {} of the open", m));
      auto base2 = NewMemFileSystem();
      FaultInjectionFileSystem fs2(*base2);
      fs2.CrashAtSync(n);
      Run(fs2);
      ASSERT_OK(fs2.PowerCut(UnsyncedData::kKeepRandomPrefix, n));
      fs2.CrashAtSync(m);
      { auto engine = BTreeEngine::Open(fs2, "db", SmallBTreeOptions()); }
      ASSERT_OK(fs2.PowerCut(UnsyncedData::kKeepRandomPrefix, m + 7));
      ASSERT_OK_AND_ASSIGN(auto engine, BTreeEngine::Open(fs2, "db", SmallBTreeOptions()));
      ASSERT_OK(engine->CheckInvariants());
      ASSERT_OK_AND_ASSIGN(State got, ReadAll(*engine));
      ASSERT_EQ(got, clean);
    }
  }
}

// Every write and every sync fails in turn. The operation reports it; later writes are refused
// until a reopen, and the reopened tree shows an allowed state.
TEST_F(BTreeCrashTest, EveryWriteOrSyncFails_ErrorReported_RestartShowsAnAllowedState) {
  std::uint64_t writes = 0;
  std::uint64_t syncs = 0;
  {
    auto base = NewMemFileSystem();
    FaultInjectionFileSystem fs(*base);
    Run(fs);
    writes = fs.write_count();
    syncs = fs.sync_count();
  }
  std::uint64_t failed_runs[2] = {0, 0};
  for (FaultOp what : {FaultOp::kWrite, FaultOp::kSync}) {
    const std::uint64_t total = what == FaultOp::kWrite ? writes : syncs;
    for (std::uint64_t n = 1; n <= total; n += (what == FaultOp::kWrite ? 5 : 3)) {
      SCOPED_TRACE(fmt::format("{} {} fails", what == FaultOp::kWrite ? "write" : "sync", n));
      auto base = NewMemFileSystem();
      FaultInjectionFileSystem fs(*base);
      fs.FailNth(what, n, Status::IOError("injected"));
      const RunResult r = Run(fs);
      if (!r.failed) continue;  // The fault hit a path that does not fail an operation.
      ++failed_runs[what == FaultOp::kWrite ? 0 : 1];
      fs.ClearFaults();
      // A restart: the disk keeps everything written (no power cut).
      ExpectAllowedState(fs, r.done, r.done + 1);
      if (HasFailure()) return;
    }
  }
  // Each kind of fault failed operations (a run that never failed would check nothing).
  EXPECT_GT(failed_runs[0], 0u);
  EXPECT_GT(failed_runs[1], 0u);
}

}  // namespace
}  // namespace kv::storage::btree
