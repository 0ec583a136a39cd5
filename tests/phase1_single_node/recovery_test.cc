// Milestone 3 acceptance tests of recovery (Store::Open over checkpoint.h and wal.h):
//   * committed data survives reopening, aborted and unfinished transactions do not;
//   * a checkpoint is loaded and only the log after it replayed; covered files are deleted;
//   * a log cut at ANY byte opens to exactly the longest committed prefix that fits (torn tail);
//   * a log with ANY single flipped bit either fails with kCorruption naming the file and offset
//     or opens to a committed prefix: never wrong data;
//   * repair truncates at the damage and says so; a damaged checkpoint is kCorruption naming it;
//   * a model-based property: random transactions, checkpoints and reopens agree with a std::map.
#include "phase1_single_node/store.h"
#include "tests/phase1_single_node/record_grammar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/check.h"
#include "common/encoding.h"
#include "common/fault_file_system.h"
#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"
#include "tests/phase1_single_node/forwarding_engine.h"

namespace kv::phase1 {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kDir = "db";
const std::string kSegment1 = "db/wal-000001.log";

// The visible contents of a store over a known key universe.
using State = std::map<std::string, std::string>;
// The files of a store directory, by name (the LOCK file excluded).
using Files = std::map<std::string, std::string>;

std::vector<std::string> KeyUniverse(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(fmt::format("k{:02}", i));
  return keys;
}

Status CommitWrites(Store& store, const std::vector<Write>& writes) {
  TxnId t = store.BeginTransaction();
  for (const auto& w : writes) {
    KV_RETURN_IF_ERROR(w.value ? store.Put(t, w.key, *w.value) : store.Delete(t, w.key));
  }
  return store.Commit(t);
}

void ApplyToModel(State& model, const std::vector<Write>& writes) {
  for (const auto& w : writes) {
    if (w.value) {
      model[w.key] = *w.value;
    } else {
      model.erase(w.key);
    }
  }
}

Result<State> ReadState(Store& store, const std::vector<std::string>& keys) {
  TxnId t = store.BeginTransaction();
  State state;
  for (const auto& k : keys) {
    KV_ASSIGN_OR_RETURN(auto v, store.Get(t, k));
    if (v) state[k] = *v;
  }
  KV_RETURN_IF_ERROR(store.Abort(t));
  return state;
}

// A MemFileSystem holding directory kDir with `files` in it.
std::unique_ptr<FileSystem> FsWithFiles(const Files& files) {
  auto fs = NewMemFileSystem();
  KV_CHECK(fs->CreateDirs(std::string(kDir)).ok(), "CreateDirs");
  for (const auto& [name, data] : files) {
    auto file = fs->NewWritableFile(JoinPath(kDir, name));
    KV_CHECK(file.has_value(), "NewWritableFile");
    KV_CHECK((*file)->Append(data).ok() && (*file)->Close().ok(), "write");
  }
  return fs;
}

Result<Files> SnapshotFiles(FileSystem& fs) {
  Files files;
  KV_ASSIGN_OR_RETURN(auto names, fs.ListDir(std::string(kDir)));
  for (const auto& name : names) {
    if (name == kLockFileName) continue;
    KV_ASSIGN_OR_RETURN(files[name], ReadFileToString(fs, JoinPath(kDir, name)));
  }
  return files;
}

// Names of the WAL segments and checkpoints in kDir, sorted.
std::vector<std::string> LogAndCheckpointFiles(FileSystem& fs) {
  std::vector<std::string> out;
  auto names = fs.ListDir(std::string(kDir));
  if (!names) return {"<ListDir failed: " + names.error().ToString() + ">"};
  for (const auto& name : *names) {
    if (ParseWalSegmentName(name) || ParseCheckpointName(name)) out.push_back(name);
  }
  std::ranges::sort(out);
  return out;
}

std::string FlipBit(std::string data, std::uint64_t bit) {
  data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
  return data;
}

// ~`n` transactions over `keys`: 1-4 writes each, values of 0-300 bytes (some empty), some
// deletes, every value unique to its transaction so that no two prefixes look alike.
std::vector<std::vector<Write>> MakeTransactions(std::uint64_t seed, int n,
                                                 const std::vector<std::string>& keys) {
  Random rng(seed);
  std::vector<std::vector<Write>> txns;
  for (int i = 0; i < n; ++i) {
    std::vector<Write> writes;
    const auto count = rng.Range(1, 4);
    for (std::uint64_t j = 0; j < count; ++j) {
      const std::string& key = keys[rng.Uniform(keys.size())];
      if (i > 2 && rng.OneIn(4)) {
        writes.push_back(Write{key, std::nullopt});
      } else if (rng.OneIn(8)) {
        writes.push_back(Write{key, ""});
      } else {
        writes.push_back(Write{key, fmt::format("t{}-", i) + rng.Letters(rng.Uniform(300))});
      }
    }
    txns.push_back(std::move(writes));
  }
  return txns;
}

// A workload recorded into a single WAL segment, with what each prefix of it means.
struct RecordedLog {
  std::vector<std::string> keys;
  std::string segment;                    // The bytes of wal-000001.log.
  std::vector<std::uint64_t> txn_ends;    // txn_ends[i]: where transaction i's commit record ends.
  std::vector<State> states;              // states[p]: the state after the first p transactions.
  std::vector<std::uint64_t> boundaries;  // Record starts, and the segment's size.

  // The number of transactions whose records all lie within the first `len` bytes.
  std::size_t PrefixWithin(std::uint64_t len) const {
    return static_cast<std::size_t>(std::ranges::upper_bound(txn_ends, len) - txn_ends.begin());
  }
  // The last record boundary at or before `len`.
  std::uint64_t BoundaryAtOrBefore(std::uint64_t len) const {
    return *std::prev(std::ranges::upper_bound(boundaries, len));
  }
};

// Options for a store whose log only appends (no reserved room), so that a segment's size says
// where its records end.
StoreOptions AppendOnlyLog() {
  StoreOptions options;
  options.wal_reserve_bytes = 0;
  return options;
}

// How a log segment looks on disk after a crash: cut at the end of the surviving bytes (a log
// that appends), or with zeros after them up to the room it had reserved (the default log).
enum class Layout { kAppended, kReserved };
constexpr std::uint64_t kRoomPastRecords = 4096;

std::string OnDisk(std::string_view segment, std::uint64_t surviving, Layout layout) {
  std::string data(segment.substr(0, surviving));
  if (layout == Layout::kReserved) data.resize(segment.size() + kRoomPastRecords, '\0');
  return data;
}

RecordedLog RecordWorkload(std::uint64_t seed, int txns) {
  RecordedLog log;
  log.keys = KeyUniverse(12);
  auto mem = NewMemFileSystem();
  auto store = Store::Open(*mem, std::string(kDir), AppendOnlyLog());
  KV_CHECK(store.has_value(), "open");
  State model;
  log.states.push_back(model);
  for (const auto& writes : MakeTransactions(seed, txns, log.keys)) {
    KV_CHECK(CommitWrites(**store, writes).ok(), "commit");
    // Aborted work in between never reaches the log.
    TxnId aborted = (*store)->BeginTransaction();
    KV_CHECK((*store)->Put(aborted, log.keys[0], "aborted").ok(), "put");
    KV_CHECK((*store)->Abort(aborted).ok(), "abort");
    ApplyToModel(model, writes);
    log.states.push_back(model);
    log.txn_ends.push_back(mem->FileSize(kSegment1).value());
  }
  store->reset();
  auto names = mem->ListDir(std::string(kDir)).value();
  KV_CHECK(std::ranges::count_if(
               names, [](const auto& n) { return ParseWalSegmentName(n).has_value(); }) == 1,
           "one segment");
  log.segment = ReadFileToString(*mem, kSegment1).value();
  KV_CHECK(log.txn_ends.back() == log.segment.size(), "segment size");
  log.boundaries = RecordBoundaries(log.segment);
  return log;
}

// --- reopen ---

TEST(Recovery, ReopenCycles_PreserveCommittedPutsOverwritesDeletes) {
  auto fs = NewMemFileSystem();
  const auto keys = KeyUniverse(10);
  Random rng(20240601);
  State model;
  std::uint64_t committed = 0;
  for (int cycle = 0; cycle < 6; ++cycle) {
    SCOPED_TRACE(fmt::format("cycle {}", cycle));
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    ASSERT_OK_AND_ASSIGN(State recovered, ReadState(*store, keys));
    ASSERT_EQ(recovered, model);
    EXPECT_EQ(store->recovery_report().wal.transactions, committed)
        << store->recovery_report().Summary();
    for (int i = 0; i < 12; ++i) {
      // Overwrites and deletes of keys written in earlier cycles, and puts of new ones.
      std::vector<Write> writes;
      const std::string& key = keys[rng.Uniform(keys.size())];
      if (model.contains(key) && rng.OneIn(3)) {
        writes.push_back({key, std::nullopt});
      } else {
        writes.push_back({key, fmt::format("c{}i{}", cycle, i)});
      }
      ASSERT_OK(CommitWrites(*store, writes));
      ApplyToModel(model, writes);
      ++committed;
    }
    ASSERT_OK_AND_ASSIGN(State now, ReadState(*store, keys));
    ASSERT_EQ(now, model);
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
  ASSERT_OK_AND_ASSIGN(State recovered, ReadState(*store, keys));
  EXPECT_EQ(recovered, model);
}

TEST(Recovery, AbortedAndUnfinishedTransactions_AbsentAfterReopen) {
  auto fs = NewMemFileSystem();
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    ASSERT_OK(CommitWrites(*store, {{"committed", "yes"}, {"shared", "committed"}}));

    TxnId aborted = store->BeginTransaction();
    ASSERT_OK(store->Put(aborted, "aborted", "x"));
    ASSERT_OK(store->Put(aborted, "shared", "aborted"));
    ASSERT_OK(store->Delete(aborted, "committed"));
    ASSERT_OK(store->Abort(aborted));
    {
      Transaction dropped = store->Begin();  // Destroyed uncommitted: aborts.
      ASSERT_OK(dropped.Put("dropped", "x"));
    }
    TxnId unfinished = store->BeginTransaction();  // Still open when the store closes.
    ASSERT_OK(store->Put(unfinished, "unfinished", "x"));
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
  ASSERT_OK_AND_ASSIGN(
      State state, ReadState(*store, {"committed", "shared", "aborted", "dropped", "unfinished"}));
  EXPECT_EQ(state, (State{{"committed", "yes"}, {"shared", "committed"}}));
  EXPECT_EQ(store->recovery_report().wal.transactions, 1u);
}

TEST(Recovery, SecondOpenOfOpenDirectory_IsBusy) {
  auto fs = NewMemFileSystem();
  ASSERT_OK_AND_ASSIGN(auto first, Store::Open(*fs, std::string(kDir)));
  EXPECT_STATUS(Store::Open(*fs, std::string(kDir)), StatusCode::kBusy);
  ASSERT_OK(CommitWrites(*first, {{"k", "v"}}));  // The failed open disturbed nothing.
  first.reset();
  ASSERT_OK_AND_ASSIGN(auto second, Store::Open(*fs, std::string(kDir)));
  ASSERT_OK_AND_ASSIGN(State state, ReadState(*second, {"k"}));
  EXPECT_EQ(state, (State{{"k", "v"}}));
}

// --- checkpoints ---

TEST(Recovery, Checkpoint_LoadedThenOnlyLaterCommitsReplayed_CoveredFilesDeleted) {
  auto fs = NewMemFileSystem();
  const auto keys = KeyUniverse(12);
  const auto txns = MakeTransactions(7, 25, keys);
  State model;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    for (int i = 0; i < 15; ++i) {
      ASSERT_OK(CommitWrites(*store, txns[i]));
      ApplyToModel(model, txns[i]);
    }
    ASSERT_OK(store->Checkpoint());
    EXPECT_EQ(store->stats().checkpoints, 1u);
    EXPECT_EQ(LogAndCheckpointFiles(*fs),
              (std::vector<std::string>{"checkpoint-000002.ckpt", "wal-000002.log"}))
        << "the checkpoint covers segment 1, which is deleted";
    for (int i = 15; i < 20; ++i) {
      ASSERT_OK(CommitWrites(*store, txns[i]));
      ApplyToModel(model, txns[i]);
    }
  }
  const std::size_t live_at_checkpoint = [&] {
    State m;
    for (int i = 0; i < 15; ++i) ApplyToModel(m, txns[i]);
    return m.size();
  }();
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    const RecoveryReport& r = store->recovery_report();
    SCOPED_TRACE(r.Summary());
    EXPECT_THAT(r.checkpoint_file, HasSubstr("checkpoint-000002.ckpt"));
    EXPECT_EQ(r.checkpoint.first_segment, 2u);
    EXPECT_EQ(r.checkpoint.entries, live_at_checkpoint);
    EXPECT_GT(r.checkpoint.ts, 0u);
    EXPECT_EQ(r.wal.segments, 1u) << "only the segment after the checkpoint";
    EXPECT_EQ(r.wal.transactions, 5u) << "only the commits after the checkpoint";
    EXPECT_EQ(r.wal.skipped, 0u);
    EXPECT_GT(r.wal.last_commit_ts, r.checkpoint.ts);
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
    EXPECT_EQ(state, model);

    // A second checkpoint replaces the first and deletes what it covers.
    for (int i = 20; i < 25; ++i) {
      ASSERT_OK(CommitWrites(*store, txns[i]));
      ApplyToModel(model, txns[i]);
    }
    ASSERT_OK(store->Checkpoint());
    EXPECT_EQ(LogAndCheckpointFiles(*fs),
              (std::vector<std::string>{"checkpoint-000004.ckpt", "wal-000004.log"}));
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
  EXPECT_THAT(store->recovery_report().checkpoint_file, HasSubstr("checkpoint-000004.ckpt"));
  EXPECT_EQ(store->recovery_report().wal.transactions, 0u);
  ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
  EXPECT_EQ(state, model);
}

// A damaged checkpoint is never skipped (that would silently drop the commits it holds, whose
// log segments are gone): any flipped bit or truncation is kCorruption naming the file.
TEST(Recovery, DamagedCheckpoint_EveryFlipOrTruncation_CorruptionNamingIt) {
  auto fs = NewMemFileSystem();
  const auto keys = KeyUniverse(12);
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    for (const auto& writes : MakeTransactions(11, 12, keys))
      ASSERT_OK(CommitWrites(*store, writes));
    ASSERT_OK(store->Checkpoint());
    ASSERT_OK(CommitWrites(*store, {{"after", "checkpoint"}}));
  }
  ASSERT_OK_AND_ASSIGN(const Files files, SnapshotFiles(*fs));
  const std::string name = "checkpoint-000002.ckpt";
  ASSERT_TRUE(files.contains(name));
  const std::string ckpt = files.at(name);

  auto expect_corruption = [&](const std::string& damaged, const std::string& what) {
    Files copy = files;
    copy[name] = damaged;
    auto damaged_fs = FsWithFiles(copy);
    auto store = Store::Open(*damaged_fs, std::string(kDir));
    ASSERT_FALSE(store.has_value()) << what << " opened: " << (*store)->recovery_report().Summary();
    EXPECT_EQ(store.error().code(), StatusCode::kCorruption)
        << what << ": " << store.error().ToString();
    EXPECT_THAT(store.error().message(), HasSubstr(name)) << what;
  };
  for (std::uint64_t byte = 0; byte < ckpt.size(); ++byte) {
    expect_corruption(FlipBit(ckpt, byte * 8 + byte % 8), fmt::format("flip in byte {}", byte));
    if (HasFatalFailure()) return;
  }
  for (std::uint64_t len = 0; len < ckpt.size(); ++len) {
    expect_corruption(ckpt.substr(0, len), fmt::format("cut to {} bytes", len));
    if (HasFatalFailure()) return;
  }
}

// Entries are batched into records of about 64 KiB: a checkpoint spanning several batches
// holds every entry, empty values included.
TEST(Recovery, CheckpointOfSeveralBatches_EveryEntryRecovered) {
  auto fs = NewMemFileSystem();
  std::vector<std::string> keys;
  State model;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    for (int i = 0; i < 120; ++i) {
      keys.push_back(fmt::format("big{:03}", i));
      std::string value = i % 10 == 0 ? "" : std::string(2500, static_cast<char>('a' + i % 26));
      ASSERT_OK(CommitWrites(*store, {{keys.back(), value}}));
      model[keys.back()] = value;
    }
    ASSERT_OK(store->Checkpoint());
  }
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
  EXPECT_EQ(store->recovery_report().checkpoint.entries, 120u);
  EXPECT_EQ(store->recovery_report().wal.transactions, 0u);
  ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
  EXPECT_EQ(state, model);
}

// A hash-table engine that records the size of every Apply batch: its entries, and the key and
// value bytes of each entry.
class BatchRecordingEngine final : public testing::ForwardingEngine {
 public:
  explicit BatchRecordingEngine(std::shared_ptr<std::vector<std::size_t>> batches,
                                std::shared_ptr<std::vector<std::vector<std::size_t>>> bytes = {})
      : batches_(std::move(batches)), bytes_(std::move(bytes)) {}
  Status Apply(std::span<Write> writes, Timestamp commit_ts) override {
    batches_->push_back(writes.size());
    if (bytes_) {
      std::vector<std::size_t>& sizes = bytes_->emplace_back();
      for (const Write& w : writes) sizes.push_back(w.key.size() + w.value.value_or("").size());
    }
    return ForwardingEngine::Apply(writes, commit_ts);
  }

 private:
  std::shared_ptr<std::vector<std::size_t>> batches_;
  std::shared_ptr<std::vector<std::vector<std::size_t>>> bytes_;
};

// Recovery hands a checkpoint to the engine in bounded chunks, not as one batch: opening a store
// must not need memory for its whole contents (phase 2 engines keep them on disk).
TEST(Recovery, LargeCheckpoint_AppliedInChunksOfAtMost4096_EveryEntryRecovered) {
  auto fs = NewMemFileSystem();
  constexpr int kKeys = 10'000;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    for (int first = 0; first < kKeys; first += 1000) {
      auto t = store->Begin();
      for (int i = first; i < first + 1000; ++i) {
        ASSERT_OK(t.Put(fmt::format("key{:05}", i), fmt::format("value{}", i)));
      }
      ASSERT_OK(t.Commit());
    }
    ASSERT_OK(store->Checkpoint());
  }
  auto batches = std::make_shared<std::vector<std::size_t>>();
  StoreOptions options;
  options.engine_factory = [batches] { return std::make_unique<BatchRecordingEngine>(batches); };
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir), options));
  EXPECT_EQ(store->recovery_report().checkpoint.entries, static_cast<std::uint64_t>(kKeys));
  ASSERT_GE(batches->size(), 3u) << "10,000 entries in chunks of at most 4096";
  std::size_t total = 0;
  for (std::size_t b : *batches) {
    EXPECT_LE(b, 4096u);
    total += b;
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kKeys));
  auto t = store->Begin();
  for (int i = 0; i < kKeys; i += 997) {
    ASSERT_OK_AND_ASSIGN(auto got, t.Get(fmt::format("key{:05}", i)));
    EXPECT_EQ(got.value_or("<missing>"), fmt::format("value{}", i));
  }
  ASSERT_OK_AND_ASSIGN(auto all, t.Scan("", "", 0));
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kKeys));
}

// A chunk also closes once its keys and values reach StoreOptions::recovery_chunk_bytes: an
// engine that takes one batch in one bounded write (the B+tree) sets it below its bound. The
// entry that passes the budget stays in its chunk, so a chunk holds less than the budget before
// its last entry.
TEST(Recovery, LargeCheckpoint_ChunksCloseAtRecoveryChunkBytes_EveryEntryRecovered) {
  auto fs = NewMemFileSystem();
  constexpr int kKeys = 300;
  constexpr std::size_t kBudget = 10'000;
  auto value = [](int i) {
    return std::string(100 + (i * 37) % 900, static_cast<char>('a' + i % 26));
  };
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    auto t = store->Begin();
    for (int i = 0; i < kKeys; ++i) ASSERT_OK(t.Put(fmt::format("key{:05}", i), value(i)));
    ASSERT_OK(t.Commit());
    ASSERT_OK(store->Checkpoint());
  }
  auto batches = std::make_shared<std::vector<std::size_t>>();
  auto bytes = std::make_shared<std::vector<std::vector<std::size_t>>>();
  StoreOptions options;
  options.recovery_chunk_bytes = kBudget;
  options.engine_factory = [batches, bytes] {
    return std::make_unique<BatchRecordingEngine>(batches, bytes);
  };
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir), options));
  ASSERT_GE(bytes->size(), 10u) << "about 170 KB of entries in chunks of about 10 KB";
  std::size_t total = 0;
  for (std::size_t c = 0; c < bytes->size(); ++c) {
    const std::vector<std::size_t>& sizes = (*bytes)[c];
    ASSERT_FALSE(sizes.empty());
    std::size_t before_last = 0;
    for (std::size_t k = 0; k + 1 < sizes.size(); ++k) before_last += sizes[k];
    EXPECT_LT(before_last, kBudget) << "chunk " << c;
    if (c + 1 < bytes->size()) {
      EXPECT_GE(before_last + sizes.back(), kBudget) << "chunk " << c << " closed early";
    }
    total += sizes.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kKeys));
  auto t = store->Begin();
  ASSERT_OK_AND_ASSIGN(auto all, t.Scan("", "", 0));
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(all[i].second, value(i)) << i;
}

// A checkpoint whose I/O fails at any of its sync points (rotation, the file, its rename, the
// clean-up) returns an error; whatever the store acknowledged before or after it survives a power
// cut, and a later checkpoint succeeds.
TEST(Recovery, CheckpointSyncFailsAtEachStep_AcknowledgedCommitsSurvivePowerCut) {
  const auto keys = KeyUniverse(12);
  const auto txns = MakeTransactions(17, 16, keys);
  // The sync points of one checkpoint: count them on a clean run.
  std::uint64_t checkpoint_syncs = 0;
  {
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
    ASSERT_OK(CommitWrites(*store, txns[0]));
    const auto before = fs.sync_count();
    ASSERT_OK(store->Checkpoint());
    checkpoint_syncs = fs.sync_count() - before;
  }
  ASSERT_GE(checkpoint_syncs, 3u) << "rotation, checkpoint file, directory";
  for (std::uint64_t m = 1; m <= checkpoint_syncs; ++m) {
    SCOPED_TRACE(fmt::format("sync {} of {} in Checkpoint() fails", m, checkpoint_syncs));
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    State model;
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
      for (int i = 0; i < 8; ++i) {
        ASSERT_OK(CommitWrites(*store, txns[i]));
        ApplyToModel(model, txns[i]);
      }
      fs.FailNth(FaultOp::kSync, m, Status::IOError("injected sync failure"));
      EXPECT_FALSE(store->Checkpoint().ok());
      // The store either keeps taking commits or refuses them all; never a silent loss.
      for (int i = 8; i < 16; ++i) {
        Status s = CommitWrites(*store, txns[i]);
        if (s.ok()) ApplyToModel(model, txns[i]);
      }
    }
    ASSERT_OK(fs.PowerCut(UnsyncedData::kDropAll));
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
      ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
      ASSERT_EQ(state, model) << store->recovery_report().Summary();
      ASSERT_OK(store->Checkpoint());
    }
    ASSERT_OK(fs.PowerCut(UnsyncedData::kDropAll));
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
    ASSERT_EQ(state, model);
  }
}

// Checkpoints taken while other threads commit: every acknowledged commit is in the checkpoint
// or in the log after it, exactly once.
TEST(Recovery, CheckpointsConcurrentWithCommitters_ReopenHasEveryAcknowledgedCommit) {
  auto mem = NewMemFileSystem();
  FaultInjectionFileSystem fs(*mem);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::vector<std::string> keys;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) keys.push_back(fmt::format("t{}-{:02}", t, i));
  }
  State model;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          // Each key written twice: the checkpoint must hold the newest version it covers.
          const std::string key = fmt::format("t{}-{:02}", t, i);
          if (!CommitWrites(*store, {{key, "first"}}).ok()) ++failures;
          if (!CommitWrites(*store, {{key, fmt::format("second-{}", i)}}).ok()) ++failures;
        }
      });
    }
    int checkpoints = 0;
    for (int c = 0; c < 8; ++c) {
      if (store->Checkpoint().ok()) ++checkpoints;
      std::this_thread::yield();
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(checkpoints, 8);
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPerThread; ++i)
        model[fmt::format("t{}-{:02}", t, i)] = fmt::format("second-{}", i);
    }
  }
  ASSERT_OK(fs.PowerCut(UnsyncedData::kDropAll));
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(fs, std::string(kDir)));
  const RecoveryReport& r = store->recovery_report();
  EXPECT_EQ(r.wal.skipped, 0u) << r.Summary();
  ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
  EXPECT_EQ(state, model) << r.Summary();
}

// --- torn tails: every cut ---

// Every cut of the log: the first `len` bytes of a recorded segment survive, for every `len`.
// In the reserved layout the rest of the record cut short is zeros, so it fails its checksum
// rather than running past the end of the file, and zeros follow the last record.
void CutAtEveryByte(Layout layout) {
  const auto start = std::chrono::steady_clock::now();
  const RecordedLog log = RecordWorkload(/*seed=*/3, /*txns=*/15);
  int with_torn_bytes = 0, with_incomplete = 0;
  for (std::uint64_t len = 0; len <= log.segment.size(); ++len) {
    SCOPED_TRACE(fmt::format("segment of {} bytes cut to {}", log.segment.size(), len));
    const std::string on_disk = OnDisk(log.segment, len, layout);
    auto fs = FsWithFiles({{"wal-000001.log", on_disk}});
    // Over zeros, lost bytes that were zeros anyway are not lost (an empty value's length, 00,
    // can end a record): the file is the same as the longer cut.
    std::uint64_t kept = len;
    while (layout == Layout::kReserved && kept < log.segment.size() && log.segment[kept] == '\0') {
      ++kept;
    }
    const std::size_t prefix = log.PrefixWithin(kept);
    const std::uint64_t boundary = log.BoundaryAtOrBefore(kept);
    const std::uint64_t prefix_end = prefix == 0 ? 0 : log.txn_ends[prefix - 1];
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
      const WalReplayReport& r = store->recovery_report().wal;
      ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, log.keys));
      ASSERT_EQ(state, log.states[prefix]) << "expected the first " << prefix << " transactions";
      EXPECT_EQ(r.transactions, prefix);
      if (layout == Layout::kAppended) {
        EXPECT_EQ(r.torn_bytes, len - boundary);
        EXPECT_EQ(r.unused_room_bytes, 0u);
      } else if (std::all_of(on_disk.begin() + static_cast<std::ptrdiff_t>(boundary), on_disk.end(),
                             [](char c) { return c == '\0'; })) {
        // Cut between records: the zeros are room the log never filled, not a torn record.
        EXPECT_EQ(r.torn_bytes, 0u);
        EXPECT_EQ(r.unused_room_bytes, on_disk.size() - boundary);
      } else {
        EXPECT_EQ(r.torn_bytes, on_disk.size() - boundary);
        EXPECT_EQ(r.unused_room_bytes, 0u);
      }
      if (r.torn_bytes > 0) {
        EXPECT_THAT(r.torn_file, HasSubstr("wal-000001.log"));
        ++with_torn_bytes;
      }
      // Whole records of a transaction whose commit record is missing are discarded.
      EXPECT_EQ(r.incomplete, boundary > prefix_end ? 1u : 0u);
      with_incomplete += boundary > prefix_end;
      // The tail is cut off so that later records follow intact ones.
      EXPECT_EQ(fs->FileSize(kSegment1).value_or(~0ull), boundary);
      ASSERT_OK(CommitWrites(*store, {{"k00", "after the cut"}}));
    }
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
    EXPECT_EQ(store->recovery_report().wal.torn_bytes, 0u);
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, log.keys));
    State expected = log.states[prefix];
    expected["k00"] = "after the cut";
    ASSERT_EQ(state, expected) << "a commit after recovery survives the next reopen";
  }
  ::testing::Test::RecordProperty("segment_bytes", static_cast<int>(log.segment.size()));
  ::testing::Test::RecordProperty("cuts_with_torn_bytes", with_torn_bytes);
  ::testing::Test::RecordProperty("cuts_with_incomplete_transaction", with_incomplete);
  ::testing::Test::RecordProperty(
      "elapsed_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count()));
  EXPECT_GT(with_torn_bytes, 0);
}

TEST(Recovery, TornTail_CutAtEveryByte_RecoversLongestCommittedPrefix) {
  CutAtEveryByte(Layout::kAppended);
}

TEST(Recovery, TornTail_ReservedRoom_ZerosFromEveryByte_RecoversLongestCommittedPrefix) {
  CutAtEveryByte(Layout::kReserved);
}

// --- bit flips: every bit ---

// Every bit of a recorded segment flipped in turn. In the reserved layout zeros follow the last
// record; only a flip that zeroes the last byte of the log can then pass for a torn write.
void FlipEveryBit(Layout layout) {
  const RecordedLog log = RecordWorkload(/*seed=*/5, /*txns=*/10);
  const std::string on_disk = OnDisk(log.segment, log.segment.size(), layout);
  int corruption = 0, opened = 0;
  for (std::uint64_t bit = 0; bit < log.segment.size() * 8; ++bit) {
    SCOPED_TRACE(fmt::format("bit {} (byte {}) of {} bytes", bit, bit / 8, log.segment.size()));
    auto fs = FsWithFiles({{"wal-000001.log", FlipBit(on_disk, bit)}});
    const std::uint64_t damaged_record = log.BoundaryAtOrBefore(bit / 8);
    auto store = Store::Open(*fs, std::string(kDir));
    if (!store.has_value()) {
      ++corruption;
      const Status& s = store.error();
      ASSERT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
      ASSERT_THAT(s.message(), HasSubstr("wal-000001.log"));
      ASSERT_THAT(s.message(), HasSubstr(fmt::format("offset {}", damaged_record)));
      continue;
    }
    // Opening is acceptable only if what it shows is a committed prefix before the damage.
    ++opened;
    ASSERT_OK_AND_ASSIGN(State state, ReadState(**store, log.keys));
    const std::size_t intact = log.PrefixWithin(damaged_record);
    bool is_prefix = false;
    for (std::size_t p = 0; p <= intact; ++p) is_prefix |= state == log.states[p];
    ASSERT_TRUE(is_prefix) << "opened with data that is no committed prefix; "
                           << (*store)->recovery_report().Summary();
    if (layout == Layout::kReserved) {
      const std::size_t last = log.segment.size() - 1;
      const bool zeroes_last_byte =
          bit / 8 == last && (log.segment[last] ^ static_cast<char>(1 << (bit % 8))) == 0;
      EXPECT_TRUE(zeroes_last_byte) << "damage before the trailing zeros must be refused; "
                                    << (*store)->recovery_report().Summary();
    }
  }
  ::testing::Test::RecordProperty("bits_flipped", static_cast<int>(log.segment.size() * 8));
  ::testing::Test::RecordProperty("open_failed_with_corruption", corruption);
  ::testing::Test::RecordProperty("opened_with_committed_prefix", opened);
  EXPECT_GT(corruption, 0);
}

TEST(Recovery, BitFlip_EveryBit_CorruptionNamingFileAndOffset_NeverWrongData) {
  FlipEveryBit(Layout::kAppended);
}

TEST(Recovery, BitFlip_ReservedRoom_EveryBit_CorruptionNamingFileAndOffset_NeverWrongData) {
  FlipEveryBit(Layout::kReserved);
}

// --- repair ---

TEST(Recovery, Repair_CorruptMiddleRecord_OpensWithPrefixBeforeDamage) {
  const RecordedLog log = RecordWorkload(/*seed=*/9, /*txns=*/12);
  // The first record of transaction 7 (0-based 6): damage in the middle of the log.
  const std::uint64_t damaged = log.txn_ends[5];
  ASSERT_TRUE(std::ranges::binary_search(log.boundaries, damaged));
  const std::string bad = FlipBit(log.segment, (damaged + kRecordHeaderBytes + 1) * 8 + 3);
  auto fs = FsWithFiles({{"wal-000001.log", bad}});

  auto refused = Store::Open(*fs, std::string(kDir));
  ASSERT_FALSE(refused.has_value()) << "without repair, damage in the middle is refused";
  EXPECT_EQ(refused.error().code(), StatusCode::kCorruption);
  EXPECT_THAT(refused.error().message(), HasSubstr(fmt::format("offset {}", damaged)));

  StoreOptions repair;
  repair.repair = true;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir), repair));
    const WalReplayReport& r = store->recovery_report().wal;
    SCOPED_TRACE(store->recovery_report().Summary());
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, log.keys));
    EXPECT_EQ(state, log.states[6]);
    EXPECT_EQ(r.repaired_bytes, log.segment.size() - damaged);
    EXPECT_THAT(r.repair_message, HasSubstr("wal-000001.log"));
    EXPECT_THAT(r.repair_message, HasSubstr(fmt::format("offset {}", damaged)));
    EXPECT_THAT(r.repair_message, HasSubstr(fmt::format("{} bytes", log.segment.size() - damaged)));
    EXPECT_THAT(store->recovery_report().Summary(), HasSubstr(r.repair_message));
    ASSERT_OK(CommitWrites(*store, {{"k00", "after repair"}}));
  }
  // The repair is durable: a plain open now succeeds with the repaired prefix plus later commits.
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir)));
  EXPECT_TRUE(store->recovery_report().wal.repair_message.empty());
  ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, log.keys));
  State expected = log.states[6];
  expected["k00"] = "after repair";
  EXPECT_EQ(state, expected);
}

// Damage in an earlier segment: repair keeps its intact prefix and discards every later segment.
// The store must then open normally (without repair) ever after.
TEST(Recovery, Repair_DamageInEarlierSegment_DiscardsLaterSegments_ThenOpensWithoutRepair) {
  auto fs = NewMemFileSystem();
  const auto keys = KeyUniverse(12);
  const auto txns = MakeTransactions(13, 15, keys);
  std::vector<State> states(1);
  std::vector<std::uint64_t> ends;  // In segment 1.
  for (int segment = 1; segment <= 3; ++segment) {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir), AppendOnlyLog()));
    ASSERT_EQ(store->stats().wal_segment, static_cast<std::uint64_t>(segment));
    for (int i = 0; i < 5; ++i) {
      const auto& writes = txns[(segment - 1) * 5 + i];
      ASSERT_OK(CommitWrites(*store, writes));
      State next = states.back();
      ApplyToModel(next, writes);
      states.push_back(next);
      if (segment == 1) ends.push_back(fs->FileSize(kSegment1).value());
    }
  }
  ASSERT_OK_AND_ASSIGN(std::string seg1, ReadFileToString(*fs, kSegment1));
  // Damage the commit record of transaction 3 (its last record) in segment 1.
  const auto boundaries = RecordBoundaries(seg1);
  const std::uint64_t damaged =
      boundaries[std::ranges::find(boundaries, ends[2]) - boundaries.begin() - 1];
  {
    ASSERT_OK_AND_ASSIGN(auto w, fs->NewWritableFile(kSegment1));
    ASSERT_OK(w->Append(FlipBit(seg1, (damaged + kRecordHeaderBytes) * 8)));
    ASSERT_OK(w->Close());
  }

  StoreOptions repair;
  repair.repair = true;
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, std::string(kDir), repair));
    SCOPED_TRACE(store->recovery_report().Summary());
    ASSERT_OK_AND_ASSIGN(State state, ReadState(*store, keys));
    EXPECT_EQ(state, states[2]) << "only the two transactions before the damage";
    EXPECT_THAT(store->recovery_report().wal.repair_message, HasSubstr("2 later segment(s)"));
    // The discarded segments are gone. Their numbers are reused: the new segment is
    // wal-000002.log, empty, so that the log stays a run of consecutive segments.
    EXPECT_THAT(LogAndCheckpointFiles(*fs),
                ::testing::Not(::testing::Contains(std::string("wal-000003.log"))));
    EXPECT_EQ(store->stats().wal_segment, 2u);
    EXPECT_EQ(fs->FileSize(std::string(kDir) + "/wal-000002.log").value(), 0u)
        << "the old segment 2's records were discarded, not kept";
    ASSERT_OK(CommitWrites(*store, {{"k00", "after repair"}}));
  }
  State expected = states[2];
  expected["k00"] = "after repair";
  for (bool with_repair : {false, true}) {
    SCOPED_TRACE(fmt::format("reopen after repair, repair={}; files {}", with_repair,
                             fmt::join(LogAndCheckpointFiles(*fs), ",")));
    auto store = Store::Open(*fs, std::string(kDir), with_repair ? repair : StoreOptions{});
    EXPECT_TRUE(store.has_value()) << store.error().ToString();
    if (!store.has_value()) continue;
    ASSERT_OK_AND_ASSIGN(State state, ReadState(**store, keys));
    EXPECT_EQ(state, expected);
  }
}

// --- model-based property ---

struct Op {
  enum class Kind { kCommit, kAbort, kCheckpoint, kReopen, kPowerCutReopen };
  Kind kind = Kind::kCommit;
  std::vector<Write> writes;
  std::uint64_t seed = 0;  // For kPowerCutReopen's surviving prefixes.
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static constexpr const char* kNames[] = {"Commit", "Abort", "Checkpoint", "Reopen",
                                           "PowerCutReopen"};
  os << kNames[static_cast<int>(op.kind)];
  if (op.kind == Op::Kind::kPowerCutReopen) os << "(seed " << op.seed << ")";
  if (!op.writes.empty()) {
    os << "{";
    for (const auto& w : op.writes) {
      os << " " << w.key
         << (w.value ? "=" + w.value->substr(0, 8) + (w.value->size() > 8 ? "..." : "")
                     : std::string(" deleted"));
    }
    os << " }";
  }
  return os;
}

rc::Gen<Write> GenWrite() {
  return rc::gen::apply(
      [](int key, bool put, int value) {
        std::string k = fmt::format("key{}", key);
        if (!put) return Write{k, std::nullopt};
        if (value == 0) return Write{k, ""};
        if (value == 9) return Write{k, std::string(3000, 'L')};
        return Write{k, fmt::format("v{}", value)};
      },
      rc::gen::inRange(0, 5), rc::gen::weightedElement<bool>({{3, true}, {1, false}}),
      rc::gen::inRange(0, 10));
}

rc::Gen<Op> GenOp() {
  auto with_writes = [](Op::Kind kind, rc::Gen<std::vector<Write>> writes) {
    return rc::gen::map(std::move(writes), [kind](std::vector<Write> w) {
      Op op;
      op.kind = kind;
      op.writes = std::move(w);
      return op;
    });
  };
  auto plain = [](Op::Kind kind) {
    return rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 1000), [kind](std::uint64_t seed) {
      Op op;
      op.kind = kind;
      op.seed = seed;
      return op;
    });
  };
  auto single = rc::gen::container<std::vector<Write>>(1, GenWrite());
  auto multi = rc::gen::nonEmpty(rc::gen::container<std::vector<Write>>(GenWrite()));
  return rc::gen::weightedOneOf<Op>({
      {6, with_writes(Op::Kind::kCommit, single)},
      {3, with_writes(Op::Kind::kCommit, multi)},
      {2, with_writes(Op::Kind::kAbort, multi)},
      {1, plain(Op::Kind::kCheckpoint)},
      {2, plain(Op::Kind::kReopen)},
      {1, plain(Op::Kind::kPowerCutReopen)},
  });
}

RC_GTEST_PROP(RecoveryProperty, RandomTxnsCheckpointsReopens_StoreEqualsModelAfterEveryReopen, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(GenOp());
  const std::vector<std::string> keys = {"key0", "key1", "key2", "key3", "key4", "key5"};
  auto mem = NewMemFileSystem();
  FaultInjectionFileSystem fs(*mem);
  auto open = [&] {
    auto s = Store::Open(fs, std::string(kDir));
    RC_ASSERT(s.has_value());
    return std::move(*s);
  };
  auto check = [&](Store& store) {
    auto state = ReadState(store, keys);
    RC_ASSERT(state.has_value());
    return *state;
  };
  std::unique_ptr<Store> store = open();
  State model;
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kCommit:
        RC_ASSERT(CommitWrites(*store, op.writes).ok());
        ApplyToModel(model, op.writes);
        break;
      case Op::Kind::kAbort: {
        TxnId t = store->BeginTransaction();
        for (const auto& w : op.writes) {
          RC_ASSERT((w.value ? store->Put(t, w.key, *w.value) : store->Delete(t, w.key)).ok());
        }
        RC_ASSERT(store->Abort(t).ok());
        break;
      }
      case Op::Kind::kCheckpoint:
        RC_ASSERT(store->Checkpoint().ok());
        break;
      case Op::Kind::kReopen:
      case Op::Kind::kPowerCutReopen:
        store.reset();
        if (op.kind == Op::Kind::kPowerCutReopen) {
          // Every commit was acknowledged after its fdatasync, so a power cut loses none.
          RC_ASSERT(fs.PowerCut(UnsyncedData::kKeepRandomPrefix, op.seed).ok());
        }
        store = open();
        RC_ASSERT(check(*store) == model);
        break;
    }
  }
  store.reset();
  store = open();
  RC_ASSERT(check(*store) == model);
}

}  // namespace
}  // namespace kv::phase1

namespace kv::phase1 {
namespace {

// A lost first segment must not pass for an empty log: the store refuses to open.
TEST(RecoveryMissingSegment, FirstSegmentDeleted_IsCorruptionNamingIt) {
  for (bool with_checkpoint : {false, true}) {
    SCOPED_TRACE(with_checkpoint ? "after a checkpoint" : "no checkpoint");
    auto fs = NewMemFileSystem();
    std::string first;
    {
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db"));
      auto t = store->Begin();
      ASSERT_OK(t.Put("a", "1"));
      ASSERT_OK(t.Commit());
      if (with_checkpoint) ASSERT_OK(store->Checkpoint());
      first = WalSegmentName(store->stats().wal_segment);
      auto u = store->Begin();
      ASSERT_OK(u.Put("b", "2"));
      ASSERT_OK(u.Commit());
    }
    {  // A second segment after the first, so the log is not empty without it.
      ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "db"));
    }
    ASSERT_OK(fs->RemoveFile("db/" + first));
    auto reopened = Store::Open(*fs, "db");
    ASSERT_FALSE(reopened.has_value()) << "opened without the segment holding key b";
    EXPECT_EQ(reopened.error().code(), StatusCode::kCorruption);
    EXPECT_THAT(reopened.error().message(), ::testing::HasSubstr(first));
  }
}

}  // namespace
}  // namespace kv::phase1
