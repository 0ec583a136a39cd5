// Crash and I/O-fault tests of the LSM engine (docs/testing.md, "The power-cut model").
//
// One deterministic workload (puts, deletes, overwrites, batches, a few sync writes, explicit
// Flush/Sync/CompactOnce calls and two reopens) runs with background_work off on a
// FaultInjectionFileSystem over a MemFileSystem, through many flushes and compactions down to
// level 2. The model records the state after every operation; a recovered engine must show
// exactly one of those states, no earlier than the last durable point:
//   * a write is durable once a sync write, Flush(), Sync() or Open() that came after it returned
//     OK (durability is a prefix property of the log; Open() writes what it replayed to a synced
//     table, and what readers saw after a restart must not vanish with the power);
//   * the operation in flight when the power went may or may not have happened.
// Suites:
//   * power cut at every sync point (file and directory syncs), dropping all unsynced data, and
//     for a few seeds keeping a random prefix of it;
//   * the N-th sync, the N-th write, or a full disk fails: the operation returns the error, later
//     writes are refused, and a restart or a power cut leaves an allowed state;
//   * a process crash (no power cut) after every operation of a shorter workload loses nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
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
#include "common/testing/status_matchers.h"
#include "phase2_storage/lsm/lsm_engine.h"

namespace kv::storage::lsm {
namespace {

const std::string kDir = "db";

using State = std::map<std::string, std::string>;

// Tiny sizes (as lsm_engine_test.cc), so a few hundred writes go through many flushes and
// compactions; no background thread, so every run of a workload does the same I/O in the same
// order and sync point k is the same moment in every run.
LsmOptions SmallOptions() {
  LsmOptions o;
  o.write_buffer_size = 16 * 1024;
  o.max_file_size = 2 * 1024;
  o.level_base_bytes = 8 * 1024;
  o.level_size_ratio = 4;
  o.level0_compaction_trigger = 2;
  o.table.block_size = 256;
  o.block_cache_bytes = 64 * 1024;
  o.background_work = false;
  return o;
}

// One step of a workload. Writes (kPut, kDelete, kBatch) keep their entries in `batch`; kPut and
// kDelete go through Put()/Delete() with its single entry.
struct Op {
  enum class Kind { kOpen, kPut, kDelete, kBatch, kFlush, kSync, kCompact };
  Kind kind = Kind::kPut;
  bool sync = false;
  WriteBatch batch;

  bool IsWrite() const { return kind == Kind::kPut || kind == Kind::kDelete || kind == Kind::kBatch; }
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
  int keys = 0;      // Keys key000..; a third of the writes go to the first eighth (overwrites).
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
    } else if (i % shape.compact_every == 0 || (i - 1) % shape.compact_every == 0) {
      op.kind = Op::Kind::kCompact;
    } else if (i % shape.flush_every == 0) {
      op.kind = Op::Kind::kFlush;
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
      KV_ASSIGN_OR_RETURN(engine, LsmEngine::Open(fs, kDir, SmallOptions()));
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

RunOutcome RunWorkload(FileSystem& fs, const std::vector<Op>& ops, std::unique_ptr<LsmEngine>& engine) {
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

struct Mode {
  UnsyncedData unsynced;
  std::uint64_t seed;
  std::string name;
};

// The crash workload: ~5 memtables' worth of writes, a Flush every 70 ops, two CompactOnce
// calls every 30, reopens at ops 180 and 420.
WorkloadShape CrashShape() {
  return WorkloadShape{.seed = 0x15a1'c4a5,
                       .ops = 600,
                       .keys = 240,
                       .min_value = 40,
                       .max_value = 200,
                       .flush_every = 100,
                       .compact_every = 30,
                       .reopen_at = {180, 420}};
}

class LsmCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ops_ = MakeWorkload(CrashShape());
    states_ = ModelStates(ops_);
    // A clean run counts the sync points and writes, and checks that the workload reaches what
    // it is for: flushes, compactions, and compactions whose output lands in level 2.
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    std::unique_ptr<LsmEngine> engine;
    LsmEngine::Stats total;
    int into_level2 = 0;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].kind == Op::Kind::kOpen && engine != nullptr) {
        const auto s = engine->stats();
        total.flushes += s.flushes;
        total.compactions += s.compactions;
        total.trivial_moves += s.trivial_moves;
      }
      std::set<std::uint64_t> level2_before;
      if (engine != nullptr) {
        for (const auto& f : engine->current_version()->files(2)) level2_before.insert(f->number);
      }
      const Status s = Execute(fs, engine, ops_[i]);
      ASSERT_TRUE(s.ok()) << "op " << i << " " << Describe(ops_[i]) << ": " << s.ToString();
      if (ops_[i].kind == Op::Kind::kCompact) {
        std::set<std::uint64_t> level2_after;
        for (const auto& f : engine->current_version()->files(2)) level2_after.insert(f->number);
        into_level2 += level2_before != level2_after;
      }
    }
    const auto s = engine->stats();
    total.flushes += s.flushes;
    total.compactions += s.compactions;
    total.trivial_moves += s.trivial_moves;
    sync_points_ = fs.sync_count();
    write_points_ = fs.write_count();
    ASSERT_OK(engine->CheckInvariants());
    ASSERT_EQ(Scan(*engine), states_.back());
    std::printf(
        "workload: %zu ops, %llu sync points, %llu writes; %llu flushes, %llu compactions "
        "(+%llu trivial moves), %d into level 2; at the end %s\n",
        ops_.size(), static_cast<unsigned long long>(sync_points_),
        static_cast<unsigned long long>(write_points_),
        static_cast<unsigned long long>(total.flushes),
        static_cast<unsigned long long>(total.compactions),
        static_cast<unsigned long long>(total.trivial_moves), into_level2,
        engine->current_version()->Describe().c_str());
    ASSERT_GE(total.flushes, 8u);
    ASSERT_GE(total.compactions, 4u);
    ASSERT_GE(into_level2, 2);
  }

  // Opens the tree after a power cut and checks it against `run`: every durable write there,
  // nothing deleted back, exactly the state after some op in [run.durable, run.end]; invariants
  // hold, and the engine takes writes that survive a clean reopen.
  void CheckRecovered(FileSystem& fs, const RunOutcome& run) {
    auto opened = LsmEngine::Open(fs, kDir, SmallOptions());
    ASSERT_TRUE(opened.has_value()) << "open after the power cut: " << opened.error().ToString();
    std::unique_ptr<LsmEngine> engine = std::move(*opened);
    SCOPED_TRACE(engine->recovery_note());
    ASSERT_OK(engine->CheckInvariants());
    const State got = Scan(*engine);
    ASSERT_FALSE(HasFailure());

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
      ASSERT_TRUE(it != got.end()) << "durable write of " << k << " lost (durable after op "
                                   << run.durable << ")";
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
        << "]\n  got     " << Describe(got) << "\n  durable " << Describe(durable)
        << "\n  at end  " << Describe(states_[run.end]);
    recovered_beyond_durable_ += *match > run.durable;

    // The recovered engine takes writes, and they survive a clean reopen.
    State expected = got;
    ASSERT_OK(engine->Put(WriteOptions{}, "after-crash", "value"));
    expected["after-crash"] = "value";
    if (!got.empty()) {
      ASSERT_OK(engine->Delete(WriteOptions{}, got.begin()->first));
      expected.erase(got.begin()->first);
    }
    engine.reset();
    ASSERT_OK_AND_ASSIGN(engine, LsmEngine::Open(fs, kDir, SmallOptions()));
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
    KV_CHECK(fs.PowerCut(mode.unsynced, mode.seed).ok(), "power cut");
    return run;
  }

  // Every sync point 1..sync_points_ + 1 in `mode` (the last one is past the workload's end).
  void EnumerateSyncPoints(const Mode& mode, std::uint64_t stride) {
    for (std::uint64_t n = 1; n <= sync_points_ + 1; n += stride) {
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
      CheckRecovered(fs, run);
      if (HasFatalFailure()) return;
      ++cuts_;
    }
  }

  std::vector<Op> ops_;
  std::vector<State> states_;
  std::uint64_t sync_points_ = 0;
  std::uint64_t write_points_ = 0;
  int cuts_ = 0;
  int recovered_beyond_durable_ = 0;
};

TEST_F(LsmCrashTest, PowerCutAtEverySyncPoint_DropAll_DurableWritesKept_StateIsAnOpPrefix) {
  EnumerateSyncPoints({UnsyncedData::kDropAll, 0, "DropAll"}, 1);
  RecordProperty("sync_points", static_cast<int>(sync_points_));
  RecordProperty("recovered_beyond_durable_point", recovered_beyond_durable_);
  // Non-sync writes acknowledged after the durable point are in the written (unsynced) tail of
  // the log; rotations and flushes sync them, so some cuts must recover more than the minimum.
  EXPECT_GT(recovered_beyond_durable_, 0);
}

TEST_F(LsmCrashTest, PowerCutAtEverySyncPoint_KeepRandomPrefix_DurableWritesKept_StateIsAnOpPrefix) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    EnumerateSyncPoints({UnsyncedData::kKeepRandomPrefix, seed, fmt::format("KeepPrefix/{}", seed)},
                        1);
    if (HasFatalFailure()) return;
  }
  RecordProperty("recovered_beyond_durable_point", recovered_beyond_durable_);
  EXPECT_GT(recovered_beyond_durable_, 0);
}

}  // namespace
}  // namespace kv::storage::lsm
