// Crash and I/O-fault tests of the LSM engine (docs/testing.md, "The power-cut model").
//
// A deterministic workload (puts, deletes, overwrites, batches, one write in eight a sync write,
// explicit Flush/Sync/CompactOnce calls and reopens) runs with background_work off on a
// FaultInjectionFileSystem over a MemFileSystem, through flushes (some forced in the middle of a
// write by a full memtable) and compactions down to level 2. The model records the state after
// every operation; a recovered engine must show exactly one of those states, no earlier than the
// last durable point:
//   * a write is durable once a sync write, Flush(), Sync() or Open() that came after it returned
//     OK. Durability is a prefix property of the log. Open() counts because it writes what it
//     replayed to a synced table: what readers saw after a restart must not vanish with the
//     power (phase 1's crash_test holds its store to the same rule);
//   * the operation in flight when the power went may or may not have happened.
// Suites:
//   * LsmPowerCutTest: the power fails at every sync point (file and directory syncs alike),
//     dropping all unsynced data, then keeping a random prefix of it (one and a half passes);
//     and again inside the Open that recovers from such a cut;
//   * LsmIoFaultTest: every sync, every write, and (a full disk) every write again fails in
//     turn: the operation returns the error, later writes are refused, and a power cut or a
//     restart leaves an allowed state; what a restart shows survives a later power cut;
//   * LsmRecoveryPowerCut: the power fails inside Open while it recovers an unsynced log tail;
//   * LsmProcessCrash: a process crash (no power cut) after every operation of a shorter
//     workload loses nothing acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
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
#include "phase2_storage/lsm/lsm_engine.h"
#include "tests/phase2_storage/lsm/small_options.h"

namespace kv::storage::lsm {
namespace {

constexpr std::string_view kDir = "db";

using State = std::map<std::string, std::string>;

// The options every open of a test uses: leveled, unless a fixture switches to size tiers for
// its whole run (SetUp to TearDown).
LsmOptions& TreeOptions() {
  static LsmOptions options = SmallLsmOptions();
  return options;
}

Result<std::unique_ptr<LsmEngine>> OpenTree(FileSystem& fs) {
  return LsmEngine::Open(fs, std::string(kDir), TreeOptions());
}

// One step of a workload. Writes (kPut, kDelete, kBatch) keep their entries in `batch`; kPut and
// kDelete go through Put()/Delete() with its single entry.
struct Op {
  enum class Kind { kOpen, kPut, kDelete, kBatch, kFlush, kSync, kCompact };
  Kind kind = Kind::kPut;
  bool sync = false;
  WriteBatch batch;

  bool IsWrite() const {
    return kind == Kind::kPut || kind == Kind::kDelete || kind == Kind::kBatch;
  }
  // Once this returns OK, every earlier write survives a power cut.
  bool IsDurablePoint() const {
    return kind == Kind::kOpen || kind == Kind::kFlush || kind == Kind::kSync ||
           (IsWrite() && sync);
  }
};

std::string Describe(const Op& op) {
  switch (op.kind) {
    case Op::Kind::kOpen:
      return "Open";
    case Op::Kind::kFlush:
      return "Flush";
    case Op::Kind::kSync:
      return "Sync";
    case Op::Kind::kCompact:
      return "CompactOnce";
    default:
      break;
  }
  std::string out = op.kind == Op::Kind::kBatch ? "Write{" : "";
  for (const auto& e : op.batch.entries()) {
    if (e.op == WriteBatch::Op::kPut) {
      out += fmt::format("Put({}, {}B) ", e.key, e.value.size());
    } else {
      out += fmt::format("Delete({}) ", e.key);
    }
  }
  if (op.kind == Op::Kind::kBatch) out += "}";
  return out + (op.sync ? " sync" : "");
}

struct WorkloadShape {
  std::uint64_t seed = 0;
  int ops = 0;
  int keys = 0;       // Keys key000..; a third of the writes go to the first eighth (overwrites).
  int min_value = 0;  // Value padding, in bytes.
  int max_value = 0;
  int flush_every = 0;
  int compact_every = 0;
  std::set<int> reopen_at;  // Op indexes (besides 0) that close and reopen the engine.
};

// The workload: op 0 opens the (empty) tree; then mostly puts and deletes, some batches, one
// write in eight a sync write, a Sync() now and then, Flush() and CompactOnce() (sometimes twice
// in a row) at fixed intervals. Every value is unique to its op, and some are empty.
std::vector<Op> MakeWorkload(const WorkloadShape& shape) {
  Random rng(shape.seed);
  auto key = [&] {
    const auto hot = static_cast<std::uint64_t>(std::max(1, shape.keys / 8));
    const std::uint64_t k = rng.OneIn(3) ? rng.Uniform(hot) : rng.Uniform(shape.keys);
    return fmt::format("key{:03}", k);
  };
  auto value = [&](int i, int j) {
    if (rng.OneIn(25)) return std::string();
    return fmt::format("v{}.{}-", i, j) + rng.Letters(rng.Range(shape.min_value, shape.max_value));
  };
  std::vector<Op> ops;
  ops.push_back(Op{Op::Kind::kOpen, false, {}});
  for (int i = 1; i < shape.ops; ++i) {
    Op op;
    if (shape.reopen_at.contains(i)) {
      op.kind = Op::Kind::kOpen;
    } else if (i % shape.flush_every == 0) {
      op.kind = Op::Kind::kFlush;
    } else if (i % shape.compact_every == 0 || (i - 1) % shape.compact_every == 0) {
      op.kind = Op::Kind::kCompact;
    } else {
      const std::uint64_t r = rng.Uniform(100);
      if (r < 58) {
        op.kind = Op::Kind::kPut;
        op.batch.Put(key(), value(i, 0));
      } else if (r < 75) {
        op.kind = Op::Kind::kDelete;
        op.batch.Delete(key());
      } else if (r < 95) {
        op.kind = Op::Kind::kBatch;
        const std::uint64_t n = rng.Range(2, 5);
        for (std::uint64_t j = 0; j < n; ++j) {
          if (rng.OneIn(3)) {
            op.batch.Delete(key());
          } else {
            op.batch.Put(key(), value(i, static_cast<int>(j)));
          }
        }
      } else {
        op.kind = Op::Kind::kSync;
      }
      op.sync = op.IsWrite() && rng.OneIn(8);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

void ApplyToModel(State& state, const Op& op) {
  for (const auto& e : op.batch.entries()) {
    if (e.op == WriteBatch::Op::kPut) {
      state[e.key] = e.value;
    } else {
      state.erase(e.key);
    }
  }
}

// states[i]: the state after ops [0, i).
std::vector<State> ModelStates(const std::vector<Op>& ops) {
  std::vector<State> states(1);
  for (const Op& op : ops) {
    states.push_back(states.back());
    ApplyToModel(states.back(), op);
  }
  return states;
}

Status Execute(FileSystem& fs, std::unique_ptr<LsmEngine>& engine, const Op& op) {
  const WriteOptions wo{.sync = op.sync};
  switch (op.kind) {
    case Op::Kind::kOpen: {
      engine.reset();
      KV_ASSIGN_OR_RETURN(engine, OpenTree(fs));
      return Status::Ok();
    }
    case Op::Kind::kPut:
      return engine->Put(wo, op.batch.entries()[0].key, op.batch.entries()[0].value);
    case Op::Kind::kDelete:
      return engine->Delete(wo, op.batch.entries()[0].key);
    case Op::Kind::kBatch:
      return engine->Write(wo, op.batch);
    case Op::Kind::kFlush:
      return engine->Flush();
    case Op::Kind::kSync:
      return engine->Sync();
    case Op::Kind::kCompact:
      return engine->CompactOnce().status();
  }
  return Status::Ok();
}

// What one run of a workload did, up to its first failed operation.
struct RunOutcome {
  std::optional<std::size_t> failed;  // The op that returned an error; the run stopped there.
  Status failure;
  std::size_t durable = 0;  // The state after ops [0, durable) must survive a power cut.
  // Allowed recovered states are states[durable .. end]: end = failed + 1 (the op in flight may
  // have happened), or all ops.
  std::size_t end = 0;
};

RunOutcome RunWorkload(FileSystem& fs, const std::vector<Op>& ops,
                       std::unique_ptr<LsmEngine>& engine) {
  RunOutcome run;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    Status s = Execute(fs, engine, ops[i]);
    if (!s.ok()) {
      run.failed = i;
      run.failure = s;
      run.end = i + 1;
      return run;
    }
    if (ops[i].IsDurablePoint()) run.durable = i + 1;
  }
  run.end = ops.size();
  return run;
}

// A full scan; fails the test on a key out of order or an iterator error.
State Scan(const OrderedEngine& engine) {
  State out;
  auto it = engine.NewIterator(ReadOptions{});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_TRUE(out.empty() || it->key() > out.rbegin()->first)
        << "iterator out of order at " << it->key();
    out.emplace(it->key(), it->value());
  }
  EXPECT_OK(it->status());
  return out;
}

std::string Describe(const State& state) {
  std::string out = fmt::format("{} keys:", state.size());
  for (const auto& [k, v] : state) out += fmt::format(" {}={}", k, v.substr(0, 12));
  return out;
}

// What a clean run of a workload did: it reaches what a crash test needs only if its flushes
// and compactions happen.
struct Coverage {
  std::uint64_t flushes = 0;
  int flushes_in_writes = 0;  // Forced by a full memtable in the middle of a write.
  std::uint64_t compactions = 0;
  int compactions_into_level2 = 0;
  std::uint64_t trivial_moves = 0;
};

// Runs `ops` on `fs`, none of which may fail, and counts what they did.
Coverage RunCleanly(FileSystem& fs, const std::vector<Op>& ops,
                    std::unique_ptr<LsmEngine>& engine) {
  Coverage c;
  auto level2 = [&] {
    std::set<std::uint64_t> numbers;
    for (const auto& f : engine->current_version()->files(2)) numbers.insert(f->number);
    return numbers;
  };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    LsmEngine::Stats before;
    std::set<std::uint64_t> level2_before;
    if (engine != nullptr) {
      before = engine->stats();
      level2_before = level2();
    }
    const Status s = Execute(fs, engine, op);
    EXPECT_TRUE(s.ok()) << "op " << i << " " << Describe(op) << ": " << s.ToString();
    if (!s.ok()) return c;
    if (op.kind == Op::Kind::kOpen) continue;  // A new engine: its stats start at zero.
    const LsmEngine::Stats after = engine->stats();
    c.flushes += after.flushes - before.flushes;
    c.compactions += after.compactions - before.compactions;
    c.trivial_moves += after.trivial_moves - before.trivial_moves;
    c.flushes_in_writes += op.IsWrite() && after.flushes > before.flushes;
    c.compactions_into_level2 +=
        after.compactions > before.compactions && level2() != level2_before;
  }
  return c;
}

std::string Describe(const Coverage& c) {
  return fmt::format(
      "{} flushes ({} inside a write), {} compactions ({} into level 2) and {} trivial moves",
      c.flushes, c.flushes_in_writes, c.compactions, c.compactions_into_level2, c.trivial_moves);
}

// The files of the tree's directory (all but LOCK), by name: a powered-off disk.
using Disk = std::map<std::string, std::string>;

Disk SnapshotDisk(FileSystem& fs) {
  Disk disk;
  auto names = fs.ListDir(std::string(kDir));
  KV_CHECK(names.has_value(), "ListDir");
  for (const std::string& name : *names) {
    if (name == "LOCK") continue;
    auto data = ReadFileToString(fs, JoinPath(kDir, name));
    KV_CHECK(data.has_value(), "read " + name);
    disk[name] = std::move(*data);
  }
  return disk;
}

std::unique_ptr<FileSystem> FileSystemWith(const Disk& disk) {
  auto fs = NewMemFileSystem();
  KV_CHECK(fs->CreateDirs(std::string(kDir)).ok(), "CreateDirs");
  for (const auto& [name, data] : disk) {
    auto file = fs->NewWritableFile(JoinPath(kDir, name));
    KV_CHECK(file.has_value() && (*file)->Append(data).ok() && (*file)->Close().ok(), "write");
  }
  return fs;
}

using Mode = kv::testing::PowerCutMode;

// The power-cut workload: ~8 memtables' worth of writes, a Flush every 150 ops, two CompactOnce
// calls every 30, reopens at ops 250 and 600.
WorkloadShape PowerCutShape() {
  return WorkloadShape{.seed = 0x15a1'c4a5,
                       .ops = 900,
                       .keys = 240,
                       .min_value = 40,
                       .max_value = 200,
                       .flush_every = 150,
                       .compact_every = 30,
                       .reopen_at = {250, 600}};
}

// The I/O-fault workload: shorter, so that every one of its writes can fail in turn.
WorkloadShape IoFaultShape() {
  return WorkloadShape{.seed = 0xfa17'0b5e,
                       .ops = 360,
                       .keys = 120,
                       .min_value = 100,
                       .max_value = 300,
                       .flush_every = 150,
                       .compact_every = 20,
                       .reopen_at = {230}};
}

// Runs one workload cleanly (counting its sync points and writes), then fails it in many ways.
class LsmWorkloadTest : public ::testing::Test {
 protected:
  // Builds the workload and its model, and checks in a clean run that the workload reaches what
  // it is for: at least `minimum` flushes (some forced by a full memtable in the middle of a
  // write), compactions, and compactions whose output lands in level 2.
  void Prepare(const WorkloadShape& shape, const Coverage& minimum) {
    ops_ = MakeWorkload(shape);
    states_ = ModelStates(ops_);
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    std::unique_ptr<LsmEngine> engine;
    const Coverage coverage = RunCleanly(fs, ops_, engine);
    ASSERT_FALSE(HasFailure());
    sync_points_ = fs.sync_count();
    write_points_ = fs.write_count();
    ASSERT_OK(engine->CheckInvariants());
    ASSERT_EQ(Scan(*engine), states_.back());
    std::printf("workload: %zu ops, %llu sync points, %llu writes; %s; at the end %s\n",
                ops_.size(), static_cast<unsigned long long>(sync_points_),
                static_cast<unsigned long long>(write_points_), Describe(coverage).c_str(),
                engine->current_version()->Describe().c_str());
    ASSERT_GE(coverage.flushes, minimum.flushes);
    ASSERT_GE(coverage.flushes_in_writes, minimum.flushes_in_writes);
    ASSERT_GE(coverage.compactions, minimum.compactions);
    ASSERT_GE(coverage.compactions_into_level2, minimum.compactions_into_level2);
  }

  // Opens the tree after a power cut and checks it against `run`: every durable write there,
  // nothing deleted back, exactly the state after some op in [run.durable, run.end]; invariants
  // hold, and the engine takes writes that survive a clean reopen.
  void CheckRecovered(FileSystem& fs, const RunOutcome& run) {
    auto opened = OpenTree(fs);
    ASSERT_TRUE(opened.has_value()) << "open after the power cut: " << opened.error().ToString();
    std::unique_ptr<LsmEngine> engine = std::move(*opened);
    SCOPED_TRACE(engine->recovery_note());
    ASSERT_OK(engine->CheckInvariants());
    const int failures_before_scan = FailureCount();
    const State got = Scan(*engine);
    ASSERT_EQ(FailureCount(), failures_before_scan) << "the scan failed";

    // Durable writes, and durable deletes: every key the ops since the last durable point did
    // not touch must be exactly as it was there.
    std::set<std::string> touched;
    for (std::size_t i = run.durable; i < run.end; ++i) {
      for (const auto& e : ops_[i].batch.entries()) touched.insert(e.key);
    }
    const State& durable = states_[run.durable];
    for (const auto& [k, v] : durable) {
      if (touched.contains(k)) continue;
      auto it = got.find(k);
      ASSERT_TRUE(it != got.end())
          << "durable write of " << k << " lost (durable after op " << run.durable << ")";
      ASSERT_EQ(it->second, v) << "durable value of " << k << " replaced";
    }
    for (const auto& [k, v] : got) {
      if (touched.contains(k) || durable.contains(k)) continue;
      ASSERT_TRUE(false) << k << "=" << v << " is back, though it was deleted (or never written) "
                         << "before the durable point after op " << run.durable;
    }
    // Reads by key agree with the scan, for the keys whose state is not obvious.
    for (const std::string& k : touched) {
      auto g = engine->Get(ReadOptions{}, k);
      auto it = got.find(k);
      if (it == got.end()) {
        ASSERT_EQ(g.status().code(), StatusCode::kNotFound) << k << ": " << g.status().ToString();
      } else {
        ASSERT_TRUE(g.has_value()) << k << ": " << g.status().ToString();
        ASSERT_EQ(*g, it->second) << k;
      }
    }

    std::optional<std::size_t> match;
    for (std::size_t j = run.durable; j <= run.end && !match; ++j) {
      if (states_[j] == got) match = j;
    }
    ASSERT_TRUE(match.has_value())
        << "recovered state is the state after no op in [" << run.durable << ", " << run.end
        << "]\n  got     " << Describe(got) << "\n  durable " << Describe(durable) << "\n  at end  "
        << Describe(states_[run.end]);
    recovered_beyond_durable_ += *match > run.durable;
    // A log segment cut short while a later one was (partly) written back: rotation leaves the
    // old segment's sync for later, so recovery must end the log there.
    torn_before_later_segments_ +=
        engine->recovery_note().find("were not replayed") != std::string::npos;

    // The recovered engine takes writes, and they survive a clean reopen.
    State expected = got;
    ASSERT_OK(engine->Put(WriteOptions{}, "after-crash", "value"));
    expected["after-crash"] = "value";
    if (!got.empty()) {
      ASSERT_OK(engine->Delete(WriteOptions{}, got.begin()->first));
      expected.erase(got.begin()->first);
    }
    engine.reset();
    ASSERT_OK_AND_ASSIGN(engine, OpenTree(fs));
    ASSERT_OK(engine->CheckInvariants());
    ASSERT_EQ(Scan(*engine), expected);
  }

  // Runs the workload with the power failing at the n-th sync (counted from before the first
  // Open), then cuts the power.
  RunOutcome CrashRun(FaultInjectionFileSystem& fs, std::uint64_t n, const Mode& mode) {
    fs.CrashAtSync(n);
    RunOutcome run;
    {
      std::unique_ptr<LsmEngine> engine;
      run = RunWorkload(fs, ops_, engine);
    }
    // A different random prefix at every sync point, reproducible from the mode and n.
    KV_CHECK(fs.PowerCut(mode.unsynced, mode.seed * 1'000'003 + n).ok(), "power cut");
    return run;
  }

  // Sync points first, first + stride, ... up to sync_points_ + 1 (past the workload's end) in
  // `mode`. A cut that recovers wrongly is a failure; the enumeration goes on to find the other
  // bad sync points (up to a few, to keep the output readable).
  void EnumerateSyncPoints(const Mode& mode, std::uint64_t first, std::uint64_t stride) {
    std::vector<std::uint64_t> bad;
    for (std::uint64_t n = first; n <= sync_points_ + 1 && bad.size() < 4; n += stride) {
      auto mem = NewMemFileSystem();
      FaultInjectionFileSystem fs(*mem);
      const RunOutcome run = CrashRun(fs, n, mode);
      SCOPED_TRACE(fmt::format("{}, power fails at sync {} of {}, in op {}: {}", mode.name, n,
                               sync_points_, run.failed.value_or(ops_.size()),
                               run.failed ? Describe(ops_[*run.failed]) : "(none)"));
      // Deterministic: every sync point of the clean run is reached, and the cut fails it.
      ASSERT_EQ(run.failed.has_value(), n <= sync_points_) << run.failure.ToString();
      if (run.failed) {
        ASSERT_EQ(run.failure.code(), StatusCode::kIOError) << run.failure.ToString();
      }
      const int failures_before = FailureCount();
      CheckRecovered(fs, run);
      if (FailureCount() != failures_before) bad.push_back(n);
      ++cuts_;
    }
    EXPECT_TRUE(bad.empty()) << mode.name << ": wrong recovery after a cut at sync points "
                             << ::testing::PrintToString(bad)
                             << (bad.size() == 4 ? " (and maybe more: stopped looking)" : "");
  }

  static int FailureCount() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
  }

  // Runs the workload with `op`'s n-th call (counted from before the first Open) failing with
  // `error`. The op that hits it must return that error, the engine must then refuse writes,
  // and afterwards:
  //  * power_cut: after a power cut that drops all unsynced data, CheckRecovered();
  //  * otherwise (a process restart): the tree opens with every acknowledged write, and the
  //    failed op either wholly there or not at all; what it shows then survives a power cut.
  // Returns false if the workload has fewer than n such calls.
  bool CheckFault(FaultOp op, std::uint64_t n, const Status& error, bool power_cut) {
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    fs.FailNth(op, n, error);
    std::unique_ptr<LsmEngine> engine;
    const RunOutcome run = RunWorkload(fs, ops_, engine);
    if (!run.failed) return false;
    const std::size_t f = *run.failed;
    SCOPED_TRACE(fmt::format("{} {} fails ({}), in op {}: {}",
                             op == FaultOp::kSync ? "sync" : "write", n, error.ToString(), f,
                             Describe(ops_[f])));
    EXPECT_EQ(run.failure.code(), error.code()) << run.failure.ToString();
    if (engine != nullptr && ops_[f].kind != Op::Kind::kOpen) {
      // Reads still work, and do not show the failed write as done... unless it was.
      const State before = Scan(*engine);
      EXPECT_TRUE(before == states_[f] || before == states_[f + 1])
          << "after the failure the engine reads " << Describe(before);
      // Error state: every later write is refused and changes nothing.
      WriteBatch batch;
      batch.Put("refused-b", "x");
      batch.Delete(states_[f].empty() ? "key000" : states_[f].begin()->first);
      EXPECT_FALSE(engine->Put(WriteOptions{.sync = true}, "refused", "x").ok());
      EXPECT_FALSE(engine->Put(WriteOptions{}, "refused", "x").ok());
      EXPECT_FALSE(engine->Delete(WriteOptions{}, "key001").ok());
      EXPECT_FALSE(engine->Write(WriteOptions{.sync = true}, batch).ok());
      EXPECT_EQ(Scan(*engine), before);
    }
    engine.reset();
    if (HasFailure()) return true;
    if (power_cut) {
      KV_CHECK(fs.PowerCut(UnsyncedData::kDropAll, 0).ok(), "power cut");
      CheckRecovered(fs, run);
      return true;
    }
    State seen;
    {
      auto reopened = OpenTree(fs);
      if (!reopened.has_value()) {
        ADD_FAILURE() << "restart after the failure: " << reopened.error().ToString();
        return true;
      }
      EXPECT_OK((*reopened)->CheckInvariants());
      seen = Scan(**reopened);
      EXPECT_TRUE(seen == states_[f] || seen == states_[f + 1])
          << "after a restart: " << Describe(seen) << "\n  acknowledged " << Describe(states_[f])
          << "\n  with the failed op " << Describe(states_[f + 1]);
      failed_op_seen_after_restart_ += seen != states_[f];
    }
    // The restart showed `seen` to readers: a power cut now must not take any of it back.
    KV_CHECK(fs.PowerCut(UnsyncedData::kDropAll, 0).ok(), "power cut");
    auto again = OpenTree(fs);
    if (!again.has_value()) {
      ADD_FAILURE() << "open after the restart and a power cut: " << again.error().ToString();
      return true;
    }
    EXPECT_OK((*again)->CheckInvariants());
    EXPECT_EQ(Scan(**again), seen) << "a power cut after the restart changed what it showed";
    return true;
  }

  // CheckFault for n = first, first + stride, ... while the workload reaches the n-th call,
  // with a power cut after the failure, a restart, or (kBoth) each in turn.
  enum class After { kPowerCut, kRestart, kBoth };
  void EnumerateFaults(FaultOp op, std::uint64_t first, std::uint64_t stride, const Status& error,
                       After after) {
    for (std::uint64_t n = first, k = 0;; n += stride, ++k) {
      const bool power_cut = after == After::kPowerCut || (after == After::kBoth && k % 2 == 0);
      if (!CheckFault(op, n, error, power_cut)) break;
      ++faults_;
      if (HasFailure()) return;
    }
  }

  std::vector<Op> ops_;
  std::vector<State> states_;
  int faults_ = 0;
  int failed_op_seen_after_restart_ = 0;
  std::uint64_t sync_points_ = 0;
  std::uint64_t write_points_ = 0;
  int cuts_ = 0;
  int recovered_beyond_durable_ = 0;
  int torn_before_later_segments_ = 0;
};

class LsmPowerCutTest : public LsmWorkloadTest {
 protected:
  void SetUp() override {
    Prepare(
        PowerCutShape(),
        Coverage{
            .flushes = 8, .flushes_in_writes = 2, .compactions = 6, .compactions_into_level2 = 2});
  }
};

TEST_F(LsmPowerCutTest, EverySyncPoint_DropAll_DurableWritesKept_StateIsAnOpPrefix) {
  EnumerateSyncPoints({UnsyncedData::kDropAll, 0, "DropAll"}, 1, 1);
  RecordProperty("sync_points", static_cast<int>(sync_points_));
  RecordProperty("recovered_beyond_durable_point", recovered_beyond_durable_);
  // Non-sync writes acknowledged after the durable point are in the written (unsynced) tail of
  // the log; rotations and flushes sync them, so some cuts must recover more than the minimum.
  EXPECT_GT(recovered_beyond_durable_, 0);
}

// The same power cuts with size-tiered compaction: its merges replace runs inside level 0.
class LsmTieredPowerCutTest : public LsmWorkloadTest {
 protected:
  void SetUp() override {
    TreeOptions().compaction_style = LsmOptions::CompactionStyle::kSizeTiered;
    TreeOptions().tiered_min_merge = 2;
    TreeOptions().tiered_max_runs = 4;
    Prepare(
        PowerCutShape(),
        Coverage{
            .flushes = 8, .flushes_in_writes = 2, .compactions = 4, .compactions_into_level2 = 0});
  }
  void TearDown() override { TreeOptions() = SmallLsmOptions(); }
};

TEST_F(LsmTieredPowerCutTest, SizeTiered_EverySyncPoint_DropAllOrKeepPrefix_StateIsAnOpPrefix) {
  EnumerateSyncPoints({UnsyncedData::kDropAll, 0, "DropAll"}, 1, 1);
  EnumerateSyncPoints({UnsyncedData::kKeepRandomPrefix, 1, "KeepPrefix/1"}, 1, 2);
  RecordProperty("sync_points", static_cast<int>(sync_points_));
  EXPECT_GT(recovered_beyond_durable_, 0);
}

// Every sync point with one family of random prefixes, and every other one with a second (each
// cut draws its own prefix from the family's seed and n; run time is the limit).
TEST_F(LsmPowerCutTest, EverySyncPoint_KeepRandomPrefix_DurableWritesKept_StateIsAnOpPrefix) {
  EnumerateSyncPoints({UnsyncedData::kKeepRandomPrefix, 1, "KeepPrefix/1"}, 1, 1);
  EnumerateSyncPoints({UnsyncedData::kKeepRandomPrefix, 2, "KeepPrefix/2"}, 2, 2);
  RecordProperty("recovered_beyond_durable_point", recovered_beyond_durable_);
  EXPECT_GT(recovered_beyond_durable_, 0);
  // The workload rotates without syncing, so some cuts tear a segment that has a successor.
  RecordProperty("torn_before_later_segments", torn_before_later_segments_);
  std::printf("recoveries that ended the log before later segments: %d\n",
              torn_before_later_segments_);
  EXPECT_GT(torn_before_later_segments_, 0);
}

// A second power cut, inside the Open that recovers from the first: for the disks left by cuts
// at every fourth sync point of the workload (keeping a random prefix of unsynced data, so torn
// log tails are among them), the power fails at every sync point of the recovering Open. The
// next Open must succeed with exactly what a clean Open of that disk shows.
TEST_F(LsmPowerCutTest, CutInsideTheRecoveringOpen_AtEachOfItsSyncPoints_SameStateAsACleanOpen) {
  const Mode mode{UnsyncedData::kKeepRandomPrefix, 3, "KeepPrefix/3"};
  int disks = 0, open_sync_points = 0;
  for (std::uint64_t n = 1; n <= sync_points_ + 1; n += 4) {
    Disk disk;
    {
      auto mem = NewMemFileSystem();
      FaultInjectionFileSystem fs(*mem);
      (void)CrashRun(fs, n, mode);
      disk = SnapshotDisk(*mem);
    }
    SCOPED_TRACE(fmt::format("disk left by a cut at sync {} of the workload ({})", n, mode.name));
    State clean;
    std::uint64_t open_syncs = 0;
    {
      auto base = FileSystemWith(disk);
      FaultInjectionFileSystem fs(*base);
      auto engine = OpenTree(fs);
      ASSERT_TRUE(engine.has_value()) << "clean open: " << engine.error().ToString();
      open_syncs = fs.sync_count();
      clean = Scan(**engine);
    }
    ASSERT_GE(open_syncs, 2u) << "Open syncs at least its manifest and CURRENT";
    ++disks;
    open_sync_points += static_cast<int>(open_syncs);
    for (std::uint64_t m = 1; m <= open_syncs; ++m) {
      SCOPED_TRACE(fmt::format("second cut at sync {} of {} inside Open", m, open_syncs));
      auto base = FileSystemWith(disk);
      FaultInjectionFileSystem fs(*base);
      fs.CrashAtSync(m);
      auto crashed = OpenTree(fs);
      ASSERT_FALSE(crashed.has_value()) << "Open survived a cut at its sync " << m;
      ASSERT_EQ(crashed.error().code(), StatusCode::kIOError) << crashed.error().ToString();
      ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed * 1'000'003 + m));
      auto engine = OpenTree(fs);
      ASSERT_TRUE(engine.has_value()) << "open after the second cut: " << engine.error().ToString();
      ASSERT_OK((*engine)->CheckInvariants());
      ASSERT_EQ(Scan(**engine), clean);
    }
  }
  RecordProperty("disks", disks);
  RecordProperty("open_sync_points", open_sync_points);
}

class LsmIoFaultTest : public LsmWorkloadTest {
 protected:
  void SetUp() override {
    Prepare(
        IoFaultShape(),
        Coverage{
            .flushes = 3, .flushes_in_writes = 1, .compactions = 3, .compactions_into_level2 = 1});
  }
};

TEST_F(LsmIoFaultTest, EverySyncFails_OpReturnsItThenWritesRefused_PowerCutLeavesAnOpPrefix) {
  EnumerateFaults(FaultOp::kSync, 1, 1, Status::IOError("injected fsync failure"),
                  After::kPowerCut);
  EXPECT_EQ(faults_, static_cast<int>(sync_points_)) << "every sync point was reached";
}

TEST_F(LsmIoFaultTest, EverySyncFails_RestartKeepsAllAcknowledged_WhatItShowsSurvivesPowerCut) {
  EnumerateFaults(FaultOp::kSync, 1, 1, Status::IOError("injected fsync failure"), After::kRestart);
  EXPECT_EQ(faults_, static_cast<int>(sync_points_)) << "every sync point was reached";
  RecordProperty("failed_op_seen_after_restart", failed_op_seen_after_restart_);
  // A failed sync leaves the bytes it was to sync in the file, so the restart replays them.
  EXPECT_GT(failed_op_seen_after_restart_, 0);
}

// Every write (log records, table blocks, manifest edits, CURRENT) fails in turn.
TEST_F(LsmIoFaultTest, EveryWriteFails_OpReturnsItThenWritesRefused_PowerCutLeavesAnOpPrefix) {
  EnumerateFaults(FaultOp::kWrite, 1, 1, Status::IOError("injected write failure"),
                  After::kPowerCut);
  EXPECT_EQ(faults_, static_cast<int>(write_points_)) << "every write was reached";
}

TEST_F(LsmIoFaultTest, EveryWriteFails_RestartKeepsAllAcknowledged_WhatItShowsSurvivesPowerCut) {
  EnumerateFaults(FaultOp::kWrite, 1, 1, Status::IOError("injected write failure"),
                  After::kRestart);
  EXPECT_EQ(faults_, static_cast<int>(write_points_)) << "every write was reached";
}

// The disk fills up at every write in turn, alternately followed by a power cut and a restart.
TEST_F(LsmIoFaultTest, DiskFullAtEveryWrite_NoSpaceThenWritesRefused_RestartOrCutLeavesAPrefix) {
  EnumerateFaults(FaultOp::kWrite, 1, 1, Status::NoSpace("injected: disk full"), After::kBoth);
  EXPECT_EQ(faults_, static_cast<int>(write_points_)) << "every write was reached";
}

// The process dies with the tail of its log segment written but not synced; the next Open
// replays that segment, flushes it to a table, creates a new segment and logs an edit retiring
// the old one. The power fails at each sync point of that Open, keeping all, none or a random
// part of the unsynced tail. The tree must open again, with the synced write and a prefix of the
// others.
TEST(LsmRecoveryPowerCut, CutAtEverySyncPointOfOpen_UnsyncedTailOfReplayedLog_TreeStillOpens) {
  auto prepare = [](FaultInjectionFileSystem& fs) {
    auto engine = OpenTree(fs).value();
    KV_CHECK(engine->Put(WriteOptions{.sync = true}, "a", "synced").ok(), "put");
    KV_CHECK(engine->Put(WriteOptions{}, "b", std::string(2000, 'b')).ok(), "put");
    KV_CHECK(engine->Put(WriteOptions{}, "c", std::string(2000, 'c')).ok(), "put");
  };
  const State synced = {{"a", "synced"}};
  State with_b = synced;
  with_b["b"] = std::string(2000, 'b');
  State with_c = with_b;
  with_c["c"] = std::string(2000, 'c');
  std::uint64_t open_syncs = 0;
  {
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    prepare(fs);
    const std::uint64_t before = fs.sync_count();
    ASSERT_OK_AND_ASSIGN(auto engine, OpenTree(fs));
    open_syncs = fs.sync_count() - before;
    ASSERT_EQ(Scan(*engine), with_c);
  }
  ASSERT_GE(open_syncs, 4u) << "Open syncs its manifest, the replayed table and the new segment";
  for (const Mode& mode : kv::testing::PowerCutModes(4)) {
    for (std::uint64_t m = 1; m <= open_syncs; ++m) {
      SCOPED_TRACE(
          fmt::format("{}, power fails at sync {} of {} inside Open", mode.name, m, open_syncs));
      auto mem = NewMemFileSystem();
      FaultInjectionFileSystem fs(*mem);
      prepare(fs);
      fs.CrashAtSync(m);
      auto crashed = OpenTree(fs);
      ASSERT_FALSE(crashed.has_value()) << "Open survived a cut at its sync " << m;
      EXPECT_EQ(crashed.error().code(), StatusCode::kIOError) << crashed.error().ToString();
      ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed));
      auto reopened = OpenTree(fs);
      EXPECT_TRUE(reopened.has_value())
          << "open after the power cut: " << reopened.error().ToString();
      if (!reopened.has_value()) continue;
      EXPECT_OK((*reopened)->CheckInvariants());
      const State got = Scan(**reopened);
      EXPECT_TRUE(got == synced || got == with_b || got == with_c) << Describe(got);
    }
  }
}

// Process crash, no power cut: for every prefix of a shorter workload, a fresh tree runs the
// prefix and is destroyed (no Flush, no Sync), then reopened. Everything acknowledged, sync or
// not, is there; and the reopened tree's writes survive the next reopen.
TEST(LsmProcessCrash, ReopenAfterEveryOp_NothingAcknowledgedLost_InvariantsHold) {
  const std::vector<Op> ops = MakeWorkload(WorkloadShape{.seed = 0x0b5e'7e11,
                                                         .ops = 300,
                                                         .keys = 80,
                                                         .min_value = 100,
                                                         .max_value = 300,
                                                         .flush_every = 110,
                                                         .compact_every = 16,
                                                         .reopen_at = {170}});
  const std::vector<State> states = ModelStates(ops);
  {
    auto fs = NewMemFileSystem();
    std::unique_ptr<LsmEngine> engine;
    const Coverage coverage = RunCleanly(*fs, ops, engine);
    ASSERT_FALSE(HasFailure());
    std::printf("process-crash workload: %zu ops; %s\n", ops.size(), Describe(coverage).c_str());
    ASSERT_GE(coverage.flushes_in_writes, 1);
    ASSERT_GE(coverage.compactions, 2u);
  }
  for (std::size_t i = 1; i <= ops.size(); ++i) {
    SCOPED_TRACE(fmt::format("process crash after op {}: {}", i - 1, Describe(ops[i - 1])));
    auto fs = NewMemFileSystem();
    std::unique_ptr<LsmEngine> engine;
    for (std::size_t j = 0; j < i; ++j) {
      const Status s = Execute(*fs, engine, ops[j]);
      ASSERT_TRUE(s.ok()) << "op " << j << ": " << s.ToString();
    }
    engine.reset();
    ASSERT_OK_AND_ASSIGN(engine, OpenTree(*fs));
    ASSERT_OK(engine->CheckInvariants());
    ASSERT_EQ(Scan(*engine), states[i]);
    // Reads by key agree: every live key, and every key the last op deleted.
    std::set<std::string> keys;
    for (const auto& [k, v] : states[i]) keys.insert(k);
    for (const auto& e : ops[i - 1].batch.entries()) keys.insert(e.key);
    for (const std::string& k : keys) {
      auto g = engine->Get(ReadOptions{}, k);
      if (!states[i].contains(k)) {
        ASSERT_EQ(g.status().code(), StatusCode::kNotFound) << k;
      } else {
        ASSERT_EQ(g.value_or("<missing>"), states[i].at(k)) << k;
      }
    }
    ASSERT_OK(engine->Put(WriteOptions{}, "after-restart", "value"));
    engine.reset();
    ASSERT_OK_AND_ASSIGN(engine, OpenTree(*fs));
    State expected = states[i];
    expected["after-restart"] = "value";
    ASSERT_EQ(Scan(*engine), expected);
  }
}

}  // namespace
}  // namespace kv::storage::lsm
