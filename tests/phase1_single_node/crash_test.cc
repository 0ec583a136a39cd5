// Milestone 3: crash-point enumeration (docs/testing.md, "The power-cut model").
//
// A deterministic workload of 30 transactions (some aborted) with two checkpoints runs on a
// FaultInjectionFileSystem over a MemFileSystem. One clean run counts its sync points N (file
// syncs and directory syncs alike, so the moments between creating or renaming a file and syncing
// its directory are visited too). Then for every n in 1..N+1 the workload runs again on a fresh
// disk with the power failing at the n-th sync; after PowerCut() the store must open, hold every
// acknowledged transaction, no partial one, and be exactly a prefix of the commit order (which
// may include the one in-flight, unacknowledged transaction). A second enumeration crashes
// Store::Open itself while it recovers such a disk.
#include "phase1_single_node/store.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"
#include "common/fault_file_system.h"
#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/power_cut.h"
#include "common/testing/status_matchers.h"

namespace kv::phase1 {
namespace {

constexpr std::string_view kDir = "db";
constexpr std::uint64_t kWorkloadSeed = 0x5eed'c4a5;

using State = std::map<std::string, std::string>;
using Files = std::map<std::string, std::string>;

struct Step {
  enum class Kind { kCommit, kAbort, kCheckpoint };
  Kind kind = Kind::kCommit;
  std::vector<Write> writes;
};

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (int i = 0; i < 10; ++i) k.push_back(fmt::format("key{}", i));
    return k;
  }();
  return keys;
}

// 30 transactions of 1-4 writes (every value unique to its transaction, some empty, some
// deletes); every fifth is aborted instead of committed; checkpoints after the 10th and 20th.
std::vector<Step> MakeWorkload() {
  Random rng(kWorkloadSeed);
  std::vector<Step> steps;
  for (int i = 1; i <= 30; ++i) {
    Step step;
    step.kind = i % 5 == 0 ? Step::Kind::kAbort : Step::Kind::kCommit;
    const auto count = rng.Range(1, 4);
    for (std::uint64_t j = 0; j < count; ++j) {
      const std::string& key = Keys()[rng.Uniform(Keys().size())];
      if (i > 3 && rng.OneIn(4)) {
        step.writes.push_back({key, std::nullopt});
      } else if (rng.OneIn(10)) {
        step.writes.push_back({key, ""});
      } else {
        step.writes.push_back({key, fmt::format("t{}-", i) + rng.Letters(rng.Uniform(200))});
      }
    }
    steps.push_back(std::move(step));
    if (i == 10 || i == 20) steps.push_back(Step{Step::Kind::kCheckpoint, {}});
  }
  return steps;
}

// states[p]: the state after the first p committed steps.
std::vector<State> ExpectedStates(const std::vector<Step>& steps) {
  std::vector<State> states(1);
  for (const auto& step : steps) {
    if (step.kind != Step::Kind::kCommit) continue;
    State next = states.back();
    for (const auto& w : step.writes) {
      if (w.value) {
        next[w.key] = *w.value;
      } else {
        next.erase(w.key);
      }
    }
    states.push_back(std::move(next));
  }
  return states;
}

struct RunOutcome {
  std::size_t acknowledged = 0;  // Commits that returned OK.
  bool failed = false;
  bool failed_in_commit = false;  // The failure was a commit (one transaction was in flight).
  Status failure;
};

// Runs `steps` until the first failure.
RunOutcome RunWorkload(Store& store, const std::vector<Step>& steps) {
  RunOutcome out;
  for (const auto& step : steps) {
    Status s;
    if (step.kind == Step::Kind::kCheckpoint) {
      s = store.Checkpoint();
    } else {
      TxnId t = store.BeginTransaction();
      for (const auto& w : step.writes) {
        KV_CHECK((w.value ? store.Put(t, w.key, *w.value) : store.Delete(t, w.key)).ok(), "write");
      }
      s = step.kind == Step::Kind::kAbort ? store.Abort(t) : store.Commit(t);
    }
    if (!s.ok()) {
      out.failed = true;
      out.failed_in_commit = step.kind == Step::Kind::kCommit;
      out.failure = s;
      return out;
    }
    if (step.kind == Step::Kind::kCommit) ++out.acknowledged;
  }
  return out;
}

Result<State> ReadState(Store& store) {
  TxnId t = store.BeginTransaction();
  State state;
  for (const auto& k : Keys()) {
    KV_ASSIGN_OR_RETURN(auto v, store.Get(t, k));
    if (v) state[k] = *v;
  }
  KV_RETURN_IF_ERROR(store.Abort(t));
  return state;
}

Result<Files> SnapshotFiles(FileSystem& fs) {
  Files files;
  KV_ASSIGN_OR_RETURN(auto names, fs.ListDir(std::string(kDir)));
  for (const auto& name : names) {
    if (name == "LOCK") continue;
    KV_ASSIGN_OR_RETURN(files[name], ReadFileToString(fs, JoinPath(kDir, name)));
  }
  return files;
}

std::unique_ptr<FileSystem> FsWithFiles(const Files& files) {
  auto fs = NewMemFileSystem();
  KV_CHECK(fs->CreateDirs(std::string(kDir)).ok(), "CreateDirs");
  for (const auto& [name, data] : files) {
    auto file = fs->NewWritableFile(JoinPath(kDir, name));
    KV_CHECK(file.has_value() && (*file)->Append(data).ok() && (*file)->Close().ok(), "write");
  }
  return fs;
}

std::string Describe(const Files& files) {
  std::string out;
  for (const auto& [name, data] : files) out += fmt::format("{}({}B) ", name, data.size());
  return out;
}

using Mode = kv::testing::PowerCutMode;

std::vector<Mode> Modes() { return kv::testing::PowerCutModes(6); }

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    steps_ = MakeWorkload();
    states_ = ExpectedStates(steps_);
    // One clean run counts the sync points of the workload (after Open).
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
    const auto before = fs.sync_count();
    RunOutcome run = RunWorkload(*store, steps_);
    ASSERT_FALSE(run.failed) << run.failure.ToString();
    ASSERT_EQ(run.acknowledged + 1, states_.size());
    sync_points_ = fs.sync_count() - before;
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store));
    ASSERT_EQ(state, states_.back());
  }

  // Reopens after a crash and checks the invariants. `allowed` lists the prefixes (indexes into
  // states_) the store may show; the one found goes to recovered_prefix_. Then commits one more
  // transaction and checks that it survives a clean reopen.
  void CheckRecovered(FaultInjectionFileSystem& fs, const std::vector<std::size_t>& allowed) {
    auto store = Store::Open(fs, std::string(kDir));
    ASSERT_TRUE(store.has_value()) << "open after power cut: " << store.error().ToString();
    SCOPED_TRACE((*store)->recovery_report().Summary());
    ASSERT_OK_AND_ASSIGN(State state, ReadState(**store));
    std::optional<std::size_t> match;
    for (std::size_t p : allowed) {
      if (state == states_[p]) match = p;
    }
    ASSERT_TRUE(match.has_value())
        << "recovered state is not an allowed prefix: " << ::testing::PrintToString(state)
        << "; allowed prefixes " << ::testing::PrintToString(allowed);
    recovered_prefix_ = *match;
    recovered_torn_tail_ = (*store)->recovery_report().wal.torn_bytes > 0;
    recovered_incomplete_ = (*store)->recovery_report().wal.incomplete > 0;
    // The recovered store takes writes, and they survive the next reopen.
    ASSERT_OK(RunWorkload(**store, {Step{Step::Kind::kCommit, {{"key0", "after crash"}}}}).failure);
    store->reset();
    ASSERT_OK_AND_ASSIGN(auto again, Store::Open(fs, std::string(kDir)));
    ASSERT_OK_AND_ASSIGN(State after, ReadState(*again));
    State expected = states_[*match];
    expected["key0"] = "after crash";
    ASSERT_EQ(after, expected);
  }

  // Runs the workload with the power failing at the n-th sync after Open; leaves the powered-off
  // disk in `fs` (PowerCut done) and returns what the run saw.
  RunOutcome CrashRun(FaultInjectionFileSystem& fs, std::uint64_t n, const Mode& mode) {
    RunOutcome run;
    {
      auto store = Store::Open(fs, std::string(kDir));
      KV_CHECK(store.has_value(), "clean open");
      fs.CrashAtSync(n);
      run = RunWorkload(**store, steps_);
    }
    KV_CHECK(fs.PowerCut(mode.unsynced, mode.seed).ok(), "power cut");
    return run;
  }

  std::vector<Step> steps_;
  std::vector<State> states_;
  std::uint64_t sync_points_ = 0;
  // What the last CheckRecovered() found.
  std::size_t recovered_prefix_ = 0;
  bool recovered_torn_tail_ = false;
  bool recovered_incomplete_ = false;
};

TEST_F(CrashTest, EverySyncPoint_AcknowledgedKept_NoPartialTxn_StateIsCommitPrefix) {
  RecordProperty("sync_points", static_cast<int>(sync_points_));
  RecordProperty("transactions_committed", static_cast<int>(states_.size() - 1));
  ASSERT_GT(sync_points_, states_.size() - 1) << "at least one sync per commit, plus checkpoints";
  int in_flight_survived = 0, torn_tails = 0, incomplete = 0;
  for (const Mode& mode : Modes()) {
    for (std::uint64_t n = 1; n <= sync_points_ + 1; ++n) {
      SCOPED_TRACE(fmt::format("{}, power fails at sync {} of {}", mode.name, n, sync_points_));
      auto mem = NewMemFileSystem();
      FaultInjectionFileSystem fs(*mem);
      RunOutcome run = CrashRun(fs, n, mode);
      // The workload is deterministic: every sync point up to N is reached.
      ASSERT_EQ(run.failed, n <= sync_points_) << run.failure.ToString();
      if (run.failed) {
        ASSERT_EQ(run.failure.code(), StatusCode::kIOError) << run.failure.ToString();
      }
      std::vector<std::size_t> allowed = {run.acknowledged};
      if (run.failed_in_commit) allowed.push_back(run.acknowledged + 1);
      CheckRecovered(fs, allowed);
      if (HasFatalFailure()) return;
      in_flight_survived += recovered_prefix_ > run.acknowledged;
      torn_tails += recovered_torn_tail_;
      incomplete += recovered_incomplete_;
    }
  }
  RecordProperty("in_flight_commit_survived", in_flight_survived);
  RecordProperty("recoveries_with_torn_tail", torn_tails);
  RecordProperty("recoveries_with_incomplete_transaction", incomplete);
}

// Crashes inside Store::Open while it recovers each post-crash disk of the enumeration above
// (torn tails, half-finished checkpoints): truncating the torn tail, creating the new segment,
// deleting covered files. After a second power cut, Open must give what a clean Open gives.
TEST_F(CrashTest, CrashDuringRecovery_EverySyncPointOfOpen_SameStateAsCleanOpen) {
  int open_sync_points = 0, disks = 0;
  for (const Mode& mode : Modes()) {
    for (std::uint64_t n = 1; n <= sync_points_ + 1; n += 1) {
      Files disk;
      {
        auto mem = NewMemFileSystem();
        FaultInjectionFileSystem fs(*mem);
        (void)CrashRun(fs, n, mode);
        ASSERT_OK_AND_ASSIGN(disk, SnapshotFiles(*mem));
      }
      ++disks;
      SCOPED_TRACE(
          fmt::format("{}, disk after a crash at sync {}: {}", mode.name, n, Describe(disk)));

      // What a clean open recovers, and how many sync points that open has.
      State clean_state;
      std::uint64_t open_syncs = 0;
      {
        auto mem = FsWithFiles(disk);
        FaultInjectionFileSystem fs(*mem);
        ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
        open_syncs = fs.sync_count();
        ASSERT_OK_AND_ASSIGN(clean_state, ReadState(*store));
      }
      ASSERT_GE(open_syncs, 1u) << "Open makes its new segment's name durable";
      open_sync_points += static_cast<int>(open_syncs);

      for (std::uint64_t m = 1; m <= open_syncs; ++m) {
        SCOPED_TRACE(fmt::format("power fails at sync {} of {} inside Open", m, open_syncs));
        auto mem = FsWithFiles(disk);
        FaultInjectionFileSystem fs(*mem);
        fs.CrashAtSync(m);
        auto crashed = Store::Open(fs, std::string(kDir));
        ASSERT_FALSE(crashed.has_value()) << "Open survived a crash at its sync " << m;
        EXPECT_EQ(crashed.error().code(), StatusCode::kIOError) << crashed.error().ToString();
        ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed + m));
        ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
        ASSERT_OK_AND_ASSIGN(State state, ReadState(*store));
        ASSERT_EQ(state, clean_state);
        ASSERT_OK(RunWorkload(*store, {Step{Step::Kind::kCommit, {{"key1", "after"}}}}).failure);
        store.reset();
        ASSERT_OK_AND_ASSIGN(store, Store::Open(fs, std::string(kDir)));
        ASSERT_OK_AND_ASSIGN(State after, ReadState(*store));
        State expected = clean_state;
        expected["key1"] = "after";
        ASSERT_EQ(after, expected);
      }
    }
  }
  RecordProperty("disks_recovered", disks);
  RecordProperty("open_sync_points", open_sync_points);
}

// After a failed fdatasync the failed commit's bytes may still sit, unsynced, at the end of its
// segment. Reopening without power loss replays them, so that commit becomes visible (allowed:
// its outcome was unknown), and the new lifetime acknowledges later commits, durably, in a new
// segment. A later power cut must not then make the store unopenable, nor leave a state that
// readers never saw: it must open to a prefix of the order readers observed, and since the last
// commit was acknowledged under SyncPolicy::kAlways, that prefix is all of it.
TEST(CrashAfterSyncError, ReplayedUnsyncedCommit_LaterPowerCut_OpensWithObservedHistory) {
  for (const Mode& mode : Modes()) {
    SCOPED_TRACE(mode.name);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    auto commit = [](Store& store, std::vector<Write> writes) {
      return RunWorkload(store, {Step{Step::Kind::kCommit, std::move(writes)}}).failure;
    };
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
      ASSERT_OK(commit(*store, {{"key0", "A"}}));
      fs.FailNth(FaultOp::kSync, 1, Status::IOError("injected fdatasync failure"));
      Status failed = commit(*store, {{"key0", "C"}, {"key1", "C"}});
      ASSERT_EQ(failed.code(), StatusCode::kIOError) << failed.ToString();
    }
    // A process restart, not a power cut: the failed commit's bytes are still in the file.
    State seen;
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
      ASSERT_OK_AND_ASSIGN(seen, ReadState(*store));
      ASSERT_TRUE(seen == (State{{"key0", "A"}}) || seen == (State{{"key0", "C"}, {"key1", "C"}}))
          << ::testing::PrintToString(seen);
      ASSERT_OK(commit(*store, {{"key2", "D"}}));  // Acknowledged after its fdatasync.
      seen["key2"] = "D";
    }
    ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed));
    auto store = Store::Open(fs, std::string(kDir));
    EXPECT_TRUE(store.has_value()) << "open after power cut: " << store.error().ToString();
    if (!store.has_value()) continue;
    ASSERT_OK_AND_ASSIGN(State state, ReadState(**store));
    EXPECT_EQ(state, seen) << "readers saw " << ::testing::PrintToString(seen)
                           << " before the power cut; " << (*store)->recovery_report().Summary();
  }
}

}  // namespace
}  // namespace kv::phase1
