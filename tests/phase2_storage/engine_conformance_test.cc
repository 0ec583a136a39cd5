// The OrderedEngine contract (phase2_storage/ordered_engine.h), checked on every engine of
// EnginesUnderTest(): one suite, instantiated once per engine.
//
//  * a model-based property: random puts, deletes, batches, gets, seeks and scans with flushes,
//    maintenance, syncs, snapshots and reopens interleaved, against std::map, with the engine's
//    invariants checked after every step;
//  * snapshots and iterators read the state of their creation whatever happens after;
//  * the iterator contract, batches (atomic, later entries win), bad input and limits;
//  * reopen keeps every acknowledged write; concurrent readers see only written values.
// Keys include prefixes of each other and 0x00 / 0xff bytes; values run from empty to 20 KiB,
// past a 4 KiB page, so a page-based engine must handle overflow.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "common/mem_file_system.h"
#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/ordered_engine.h"
#include "tests/phase2_storage/engine_under_test.h"
#include "tests/phase2_storage/property_in_test.h"

namespace kv::storage::testing {
namespace {

using Model = std::map<std::string, std::string>;
constexpr char kDir[] = "db";

// ---- Reading the engine back --------------------------------------------------------------

// Every entry from SeekToFirst on, checking that keys strictly increase and the walk ends OK.
Result<Model> ReadAll(const OrderedEngine& engine, const Snapshot* snapshot = nullptr) {
  ReadOptions options;
  options.snapshot = snapshot;
  auto it = engine.NewIterator(options);
  Model out;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!out.empty() && it->key() <= out.rbegin()->first) {
      return Status::Corruption(
          fmt::format("iterator went from key {:?} to {:?}", out.rbegin()->first, it->key()));
    }
    out.emplace(it->key(), it->value());
  }
  KV_RETURN_IF_ERROR(it->status());
  return out;
}

// Up to `n` entries from Seek(target) on, with the same checks.
Result<Model> ReadFrom(Iterator& it, std::string_view target, std::size_t n) {
  Model out;
  for (it.Seek(target); it.Valid() && out.size() < n; it.Next()) {
    if (it.key() < target || (!out.empty() && it.key() <= out.rbegin()->first)) {
      return Status::Corruption(
          fmt::format("after Seek({:?}) the iterator is at {:?}", target, it.key()));
    }
    out.emplace(it.key(), it.value());
  }
  KV_RETURN_IF_ERROR(it.status());
  return out;
}
Result<Model> ReadFrom(const OrderedEngine& engine, std::string_view target, std::size_t n,
                       const Snapshot* snapshot = nullptr) {
  ReadOptions options;
  options.snapshot = snapshot;
  auto it = engine.NewIterator(options);
  return ReadFrom(*it, target, n);
}

// What ReadFrom must return according to `model`.
Model ModelFrom(const Model& model, std::string_view target, std::size_t n) {
  Model out;
  for (auto it = model.lower_bound(std::string(target)); it != model.end() && out.size() < n;
       ++it) {
    out.insert(*it);
  }
  return out;
}

// Get, with "absent" as std::nullopt and any other error as an error.
Result<std::optional<std::string>> Lookup(const OrderedEngine& engine, std::string_view key,
                                          const Snapshot* snapshot = nullptr) {
  ReadOptions options;
  options.snapshot = snapshot;
  auto got = engine.Get(options, key);
  if (got.has_value()) return std::optional<std::string>(std::move(*got));
  if (got.error().code() == StatusCode::kNotFound) return std::optional<std::string>();
  return got.error();
}

std::optional<std::string> InModel(const Model& model, const std::string& key) {
  auto it = model.find(key);
  return it == model.end() ? std::nullopt : std::optional<std::string>(it->second);
}

// ---- Keys and values -------------------------------------------------------------------------

// A number in [low, high), uniformly whatever RapidCheck's size (rc::gen::inRange narrows the
// range for small sizes: the first cases would all write the same key with the same length).
template <typename T>
rc::Gen<T> Uniform(T low, T high) {
  return rc::gen::resize(100, rc::gen::inRange<T>(low, high));
}

// Keys an ordered encoding gets wrong first: every string of 1 to 3 bytes over {0x00, 'a', 0xff}
// (each a prefix of others, sorting around the escape bytes) ...
std::vector<std::string> AwkwardKeys() {
  std::vector<std::string> keys;
  const std::array<char, 3> bytes = {'\x00', 'a', '\xff'};
  std::vector<std::string> last = {""};
  for (int length = 1; length <= 3; ++length) {
    std::vector<std::string> next;
    for (const std::string& prefix : last) {
      for (char b : bytes) next.push_back(prefix + b);
    }
    keys.insert(keys.end(), next.begin(), next.end());
    last = std::move(next);
  }
  return keys;
}

// ... "k" and a decimal number ("k1" < "k10" < "k100" < "k11"), and a few long keys up to the
// engine's limit.
rc::Gen<std::string> GenKey(const phase1::Limits& limits) {
  static const std::vector<std::string> awkward = AwkwardKeys();
  const std::size_t longest = limits.max_key_bytes;
  return rc::gen::weightedOneOf<std::string>({
      {8, rc::gen::elementOf(awkward)},
      {12, rc::gen::map(Uniform(0, 120), [](int i) { return fmt::format("k{}", i); })},
      {1, rc::gen::map(rc::gen::pair(rc::gen::elementOf(
                                         std::vector<std::size_t>{100, longest / 2, longest - 1}),
                                     Uniform(0, 3)),
                       [](const std::pair<std::size_t, int>& p) {
                         return std::string(p.first, 'L') + static_cast<char>('a' + p.second);
                       })},
  });
}

// A value of `size` bytes that starts with `tag` (when it fits) and is filled with a byte derived
// from it, so values of different writes differ and cover every byte value.
std::string MakeValue(int tag, std::size_t size) {
  std::string v = fmt::format("<{}>", tag);
  v.resize(size, static_cast<char>((tag * 37) & 0xff));
  return v;
}

// Mostly small values; some empty, some up to a 4 KiB page, a few bigger than one (to 20 KiB).
rc::Gen<std::size_t> GenValueSize() {
  return rc::gen::weightedOneOf<std::size_t>({
      {2, rc::gen::just<std::size_t>(0)},
      {30, Uniform<std::size_t>(1, 65)},
      {8, Uniform<std::size_t>(65, 4097)},
      {1, Uniform<std::size_t>(4097, 20 * 1024 + 1)},
  });
}

// ---- The suite -----------------------------------------------------------------------------

// An engine open in a fresh in-memory file system, reopened in place by Reopen().
struct OpenEngine {
  explicit OpenEngine(const EngineUnderTest& e) : under_test(e) { Reopen(); }
  void Reopen() {
    engine.reset();
    auto opened = under_test.open(*fs, kDir);
    RC_ASSERT(opened.has_value());
    engine = std::move(*opened);
  }
  void CheckInvariants() {
    const Status s = under_test.check_invariants(*engine);
    if (!s.ok()) RC_FAIL(s.ToString() + "\n" + engine->DescribeState());
  }
  void Maintain() { RC_ASSERT(under_test.maintenance(*engine).ok()); }

  const EngineUnderTest& under_test;
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  std::unique_ptr<OrderedEngine> engine;
};

class EngineConformance : public ::testing::TestWithParam<EngineUnderTest> {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(engine_, GetParam().open(*fs_, kDir)); }

  void Reopen() {
    engine_.reset();
    ASSERT_OK_AND_ASSIGN(engine_, GetParam().open(*fs_, kDir));
  }
  // A flush and one unit of maintenance, to move what is in memory into the engine's files.
  void FlushAndMaintain() {
    ASSERT_OK(engine_->Flush());
    ASSERT_OK(GetParam().maintenance(*engine_));
    ASSERT_OK(GetParam().check_invariants(*engine_));
  }
  // The engine's whole contents, or a test failure.
  Model Contents() {
    auto all = ReadAll(*engine_);
    EXPECT_TRUE(all.has_value()) << all.error().ToString();
    return all.value_or(Model{});
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<OrderedEngine> engine_;
};

// ---- Model-based property --------------------------------------------------------------------

// A snapshot or an iterator created without one, with the model as it was at its creation.
struct HeldView {
  std::unique_ptr<Snapshot> snapshot;  // Set for a snapshot ...
  std::unique_ptr<Iterator> iterator;  // ... or this, for an iterator at the engine's state.
  Model model;
};

// Reads through `view`: the whole state and a Get of each of `keys` at a snapshot, a few
// entries from each of `keys` with an iterator.
void CheckHeldView(const OrderedEngine& engine, HeldView& view,
                   const std::vector<std::string>& keys) {
  if (view.snapshot != nullptr) {
    auto all = ReadAll(engine, view.snapshot.get());
    RC_ASSERT(all.has_value());
    RC_ASSERT(*all == view.model);
    for (const std::string& key : keys) {
      auto got = Lookup(engine, key, view.snapshot.get());
      RC_ASSERT(got.has_value());
      RC_ASSERT(*got == InModel(view.model, key));
    }
  } else {
    for (const std::string& key : keys) {
      auto some = ReadFrom(*view.iterator, key, 3);
      RC_ASSERT(some.has_value());
      RC_ASSERT(*some == ModelFrom(view.model, key, 3));
    }
  }
}

enum class Op {
  kPut,  // One in eight with WriteOptions::sync.
  kDelete,
  kBatch,
  kGet,
  kSeek,
  kScanAll,
  kFlush,
  kMaintenance,
  kSync,
  kHold,     // Take a snapshot or an iterator.
  kRelease,  // Check one held and maybe drop it.
  kReopen,
};

void RandomOperationsMatchTheModel(const EngineUnderTest& under_test) {
  OpenEngine db(under_test);
  const auto key_gen = GenKey(under_test.limits);
  const auto op_gen = rc::gen::weightedElement<Op>({
      {30, Op::kPut},
      {10, Op::kDelete},
      {8, Op::kBatch},
      {12, Op::kGet},
      {10, Op::kSeek},
      {3, Op::kScanAll},
      {5, Op::kFlush},
      {7, Op::kMaintenance},
      {2, Op::kSync},
      {5, Op::kHold},
      {5, Op::kRelease},
      {3, Op::kReopen},
  });
  Model model;
  std::vector<HeldView> held;
  const int steps = *rc::gen::inRange(1, 600);
  for (int step = 0; step < steps; ++step) {
    OrderedEngine& engine = *db.engine;
    switch (*op_gen) {
      case Op::kPut: {
        const std::string key = *key_gen;
        const std::string value = MakeValue(step, *GenValueSize());
        WriteOptions options;
        options.sync = *rc::gen::weightedElement<bool>({{7, false}, {1, true}});
        RC_LOG() << step << ": Put " << key.size() << "-byte key, " << value.size() << " bytes"
                 << (options.sync ? ", sync\n" : "\n");
        RC_ASSERT(engine.Put(options, key, value).ok());
        model[key] = value;
        break;
      }
      case Op::kDelete: {
        const std::string key = *key_gen;
        RC_LOG() << step << ": Delete\n";
        RC_ASSERT(engine.Delete({}, key).ok());
        model.erase(key);
        break;
      }
      case Op::kBatch: {
        WriteBatch batch;
        std::vector<std::string> keys;
        const int n = *Uniform(1, 9);
        for (int i = 0; i < n; ++i) {
          // Every third entry or so touches a key the batch already wrote: the later one wins.
          const bool again = !keys.empty() && *Uniform(0, 3) == 0;
          const std::string key = again ? *rc::gen::elementOf(keys) : *key_gen;
          keys.push_back(key);
          if (*Uniform(0, 4) == 0) {
            batch.Delete(key);
            model.erase(key);
          } else {
            const std::string value = MakeValue(step * 10 + i, *GenValueSize());
            batch.Put(key, value);
            model[key] = value;
          }
        }
        RC_LOG() << step << ": Write a batch of " << n << "\n";
        RC_ASSERT(engine.Write({}, batch).ok());
        break;
      }
      case Op::kGet: {
        const std::string key = *key_gen;
        RC_LOG() << step << ": Get\n";
        auto got = Lookup(engine, key);
        RC_ASSERT(got.has_value());
        RC_ASSERT(*got == InModel(model, key));
        break;
      }
      case Op::kSeek: {
        // Seek to a key, just past it, or to a prefix of it, and read a few entries.
        std::string target = *key_gen;
        const int where = *Uniform(0, 3);
        if (where == 1) target.push_back('\x00');
        if (where == 2) target.pop_back();
        const std::size_t n = *Uniform<std::size_t>(1, 11);
        RC_LOG() << step << ": Seek and read " << n << "\n";
        auto got = ReadFrom(engine, target, n);
        RC_ASSERT(got.has_value());
        RC_ASSERT(*got == ModelFrom(model, target, n));
        break;
      }
      case Op::kScanAll: {
        RC_LOG() << step << ": Scan all\n";
        auto all = ReadAll(engine);
        RC_ASSERT(all.has_value());
        RC_ASSERT(*all == model);
        break;
      }
      case Op::kFlush:
        RC_LOG() << step << ": Flush\n";
        RC_ASSERT(engine.Flush().ok());
        break;
      case Op::kMaintenance:
        RC_LOG() << step << ": Maintenance\n";
        db.Maintain();
        break;
      case Op::kSync:
        RC_LOG() << step << ": Sync\n";
        RC_ASSERT(engine.Sync().ok());
        break;
      case Op::kHold: {
        if (held.size() >= 3) break;
        HeldView view;
        if (*rc::gen::arbitrary<bool>()) {
          view.snapshot = engine.GetSnapshot();
        } else {
          view.iterator = engine.NewIterator({});
        }
        view.model = model;
        RC_LOG() << step << ": Hold " << (view.snapshot ? "a snapshot" : "an iterator") << "\n";
        held.push_back(std::move(view));
        break;
      }
      case Op::kRelease: {
        if (held.empty()) break;
        const std::size_t i = *Uniform<std::size_t>(0, held.size());
        const bool drop = *rc::gen::arbitrary<bool>();
        RC_LOG() << step << ": Check held view " << i << (drop ? " and drop it\n" : "\n");
        CheckHeldView(engine, held[i], {*key_gen, *key_gen});
        if (drop) held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
      case Op::kReopen:
        RC_LOG() << step << ": Reopen\n";
        held.clear();  // Snapshots and iterators die before their engine.
        db.Reopen();
        break;
    }
    db.CheckInvariants();
  }
  // Whatever is still due, then everything reads back, through every kind of read, also after
  // a reopen.
  for (int i = 0; i < 10; ++i) db.Maintain();
  db.CheckInvariants();
  for (HeldView& view : held) CheckHeldView(*db.engine, view, {"k1", std::string(1, '\x00')});
  held.clear();
  for (int round = 0; round < 2; ++round) {
    auto all = ReadAll(*db.engine);
    RC_ASSERT(all.has_value());
    RC_ASSERT(*all == model);
    for (const auto& [key, value] : model) {
      auto got = Lookup(*db.engine, key);
      RC_ASSERT(got.has_value());
      RC_ASSERT(*got == std::optional<std::string>(value));
    }
    db.Reopen();
    db.CheckInvariants();
  }
}

TEST_P(EngineConformance, RandomOperationsWithFlushMaintenanceReopen_MatchStdMap) {
  CheckPropertyInTest(100, [&] { RandomOperationsMatchTheModel(GetParam()); });
}

// ---- Snapshots -------------------------------------------------------------------------------

// Rounds of random writes, flushes and maintenance; after each, a snapshot or an iterator may
// be taken, and every one still held must read exactly the state of its creation, through Get
// of every key either state has and through iterators.
void SnapshotsSeeTheirCreationState(const EngineUnderTest& under_test) {
  OpenEngine db(under_test);
  OrderedEngine& engine = *db.engine;
  const auto key_gen = rc::gen::map(Uniform(0, 40), [](int i) {
    return fmt::format("key{}", i);  // Few keys: every round overwrites and deletes old ones.
  });
  std::vector<std::string> all_keys;
  for (int i = 0; i < 40; ++i) all_keys.push_back(fmt::format("key{}", i));
  Model model;
  std::vector<HeldView> held;
  const int rounds = *rc::gen::inRange(1, 12);
  for (int round = 0; round < rounds; ++round) {
    const int writes = *rc::gen::inRange(0, 60);
    for (int i = 0; i < writes; ++i) {
      const std::string key = *key_gen;
      if (*Uniform(0, 4) == 0) {
        RC_ASSERT(engine.Delete({}, key).ok());
        model.erase(key);
      } else {
        const std::string value = MakeValue(round * 100 + i, *GenValueSize());
        RC_ASSERT(engine.Put({}, key, value).ok());
        model[key] = value;
      }
    }
    if (*rc::gen::arbitrary<bool>()) RC_ASSERT(engine.Flush().ok());
    for (int i = *Uniform(0, 3); i > 0; --i) db.Maintain();
    db.CheckInvariants();
    const int take = *Uniform(0, 3);  // 0: nothing; 1: a snapshot; 2: an iterator.
    RC_LOG() << "round " << round << ": " << writes << " writes, take " << take << "\n";
    if (take == 1) held.push_back(HeldView{engine.GetSnapshot(), nullptr, model});
    if (take == 2) held.push_back(HeldView{nullptr, engine.NewIterator({}), model});
    for (HeldView& view : held) CheckHeldView(engine, view, all_keys);
  }
  // Each iterator, walked from the start after all the writes, still sees its state.
  for (HeldView& view : held) {
    if (view.iterator == nullptr) continue;
    Model seen;
    for (view.iterator->SeekToFirst(); view.iterator->Valid(); view.iterator->Next()) {
      seen.emplace(view.iterator->key(), view.iterator->value());
    }
    RC_ASSERT(view.iterator->status().ok());
    RC_ASSERT(seen == view.model);
  }
}

TEST_P(EngineConformance,
       SnapshotsAndIterators_SeeTheirCreationState_ThroughLaterWritesAndFlushes) {
  CheckPropertyInTest(40, [&] { SnapshotsSeeTheirCreationState(GetParam()); });
}

// The same, spelled out once: a key overwritten, one deleted and one added after the snapshot,
// with everything flushed and maintained in between.
TEST_P(EngineConformance, Snapshot_KeyOverwrittenDeletedAdded_ReadsAtSnapshotUnchanged) {
  ASSERT_OK(engine_->Put({}, "changed", "old"));
  ASSERT_OK(engine_->Put({}, "deleted", "there"));
  auto snapshot = engine_->GetSnapshot();
  auto iterator = engine_->NewIterator({});
  ASSERT_OK(engine_->Put({}, "changed", "new"));
  ASSERT_OK(engine_->Delete({}, "deleted"));
  ASSERT_OK(engine_->Put({}, "added", "fresh"));
  FlushAndMaintain();
  for (int i = 0; i < 300; ++i) ASSERT_OK(engine_->Put({}, fmt::format("filler{}", i), "x"));
  FlushAndMaintain();

  ReadOptions at_snapshot;
  at_snapshot.snapshot = snapshot.get();
  EXPECT_EQ(engine_->Get(at_snapshot, "changed").value_or("<missing>"), "old");
  EXPECT_EQ(engine_->Get(at_snapshot, "deleted").value_or("<missing>"), "there");
  EXPECT_STATUS(engine_->Get(at_snapshot, "added"), StatusCode::kNotFound);
  const Model then = {{"changed", "old"}, {"deleted", "there"}};
  auto all = ReadAll(*engine_, snapshot.get());
  ASSERT_OK(all);
  EXPECT_EQ(*all, then);
  auto walked = ReadFrom(*iterator, "", 1000);
  ASSERT_OK(walked);
  EXPECT_EQ(*walked, then) << "an iterator without a snapshot reads the state of its creation";

  EXPECT_EQ(engine_->Get({}, "changed").value_or("<missing>"), "new");
  EXPECT_STATUS(engine_->Get({}, "deleted"), StatusCode::kNotFound);
  EXPECT_EQ(engine_->Get({}, "added").value_or("<missing>"), "fresh");
}

// ---- The iterator contract -------------------------------------------------------------------

TEST_P(EngineConformance, Iterator_EmptyEngine_NeverValidStatusOk) {
  auto it = engine_->NewIterator({});
  EXPECT_FALSE(it->Valid()) << "a new iterator is not Valid()";
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
  it->Seek("a");
  EXPECT_FALSE(it->Valid());
  it->Seek("");
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
  EXPECT_STATUS(engine_->Get({}, "a"), StatusCode::kNotFound);
  // Everything written and then deleted: empty again, in memory and in the files.
  ASSERT_OK(engine_->Put({}, "a", "1"));
  FlushAndMaintain();
  ASSERT_OK(engine_->Delete({}, "a"));
  for (int round = 0; round < 2; ++round) {
    it = engine_->NewIterator({});
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid()) << "round " << round;
    EXPECT_OK(it->status());
    FlushAndMaintain();
  }
}

// Seek(target) lands on the first key >= target, whether the entries are in memory, in the
// engine's files, or both, and before and after a reopen.
TEST_P(EngineConformance, Iterator_SeekLandsOnFirstKeyAtOrAfterTarget_PastTheEndNotValid) {
  const std::vector<std::string> keys = {std::string("a"), std::string("ab"),
                                         std::string("b\x00", 2), std::string("b\xff"),
                                         std::string("c")};
  // Half the keys reach the files before the rest are written.
  for (std::size_t i = 0; i < keys.size(); i += 2) ASSERT_OK(engine_->Put({}, keys[i], keys[i]));
  FlushAndMaintain();
  for (std::size_t i = 1; i < keys.size(); i += 2) ASSERT_OK(engine_->Put({}, keys[i], keys[i]));
  const std::vector<std::pair<std::string, std::optional<std::string>>> seeks = {
      {"", "a"},
      {"a", "a"},
      {std::string("a\x00", 2), "ab"},
      {"aa", "ab"},
      {"ab", "ab"},
      {"b", std::string("b\x00", 2)},
      {std::string("b\x00", 2), std::string("b\x00", 2)},
      {std::string("b\x01"), std::string("b\xff")},
      {std::string("b\xff\xff"), "c"},
      {"c", "c"},
      {std::string("c\x00", 2), std::nullopt},
      {"d", std::nullopt},
      {std::string("\xff\xff\xff"), std::nullopt},
  };
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round == 0 ? "in memory and files" : round == 1 ? "flushed" : "reopened");
    auto it = engine_->NewIterator({});
    EXPECT_FALSE(it->Valid());
    for (const auto& [target, want] : seeks) {
      it->Seek(target);
      if (want.has_value()) {
        ASSERT_TRUE(it->Valid()) << "Seek(" << ::testing::PrintToString(target) << ")";
        EXPECT_EQ(it->key(), *want) << "Seek(" << ::testing::PrintToString(target) << ")";
        EXPECT_EQ(it->value(), *want);
      } else {
        EXPECT_FALSE(it->Valid()) << "Seek(" << ::testing::PrintToString(target) << ")";
      }
      EXPECT_OK(it->status());
    }
    // Next walks the rest in order and then stops, status OK.
    it->Seek("ab");
    for (std::size_t i = 1; i < keys.size(); ++i, it->Next()) {
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), keys[i]);
    }
    EXPECT_FALSE(it->Valid());
    EXPECT_OK(it->status());
    // And an iterator at the end can be positioned again.
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), keys.front());
    if (round == 0) FlushAndMaintain();
    if (round == 1) Reopen();
  }
}

// ---- Batches ---------------------------------------------------------------------------------

TEST_P(EngineConformance, WriteBatch_LaterEntriesForTheSameKeyWin) {
  ASSERT_OK(engine_->Put({}, "deleted then put", "old"));
  WriteBatch batch;
  batch.Put("put twice", "first");
  batch.Put("put twice", "second");
  batch.Put("put then deleted", "gone");
  batch.Delete("put then deleted");
  batch.Delete("deleted then put");
  batch.Put("deleted then put", "back");
  batch.Put("put, deleted, put", "1");
  batch.Delete("put, deleted, put");
  batch.Put("put, deleted, put", "3");
  ASSERT_OK(engine_->Write({}, batch));
  const Model want = {
      {"put twice", "second"}, {"deleted then put", "back"}, {"put, deleted, put", "3"}};
  EXPECT_EQ(Contents(), want);
  FlushAndMaintain();
  EXPECT_EQ(Contents(), want);
  Reopen();
  EXPECT_EQ(Contents(), want);
  EXPECT_STATUS(engine_->Get({}, "put then deleted"), StatusCode::kNotFound);
}

// One bad entry — first, in the middle or last — and none of the batch happens: not its puts of
// new keys, not its overwrites, not its deletes.
TEST_P(EngineConformance, WriteBatch_OneInvalidEntry_RejectsTheWholeBatch) {
  const phase1::Limits& limits = GetParam().limits;
  ASSERT_OK(engine_->Put({}, "kept", "1"));
  ASSERT_OK(engine_->Put({}, "not deleted", "2"));
  const Model before = Contents();
  struct Bad {
    const char* what;
    std::string key;
    std::optional<std::string> value;  // nullopt: a delete.
  };
  const std::vector<Bad> bads = {
      {"a put with an empty key", "", "v"},
      {"a delete with an empty key", "", std::nullopt},
      {"an oversized key", std::string(limits.max_key_bytes + 1, 'K'), "v"},
      {"a delete of an oversized key", std::string(limits.max_key_bytes + 1, 'K'), std::nullopt},
      {"an oversized value", "big", std::string(limits.max_value_bytes + 1, 'V')},
  };
  for (const Bad& bad : bads) {
    for (int position = 0; position < 3; ++position) {
      SCOPED_TRACE(fmt::format("{} at position {}", bad.what, position));
      WriteBatch batch;
      auto add_bad = [&] {
        if (bad.value) {
          batch.Put(bad.key, *bad.value);
        } else {
          batch.Delete(bad.key);
        }
      };
      if (position == 0) add_bad();
      batch.Put("kept", "overwritten");
      batch.Put("new", "added");
      if (position == 1) add_bad();
      batch.Delete("not deleted");
      if (position == 2) add_bad();
      EXPECT_STATUS(engine_->Write({}, batch), StatusCode::kInvalidArgument);
      EXPECT_EQ(Contents(), before);
    }
  }
  FlushAndMaintain();
  EXPECT_EQ(Contents(), before);
  Reopen();
  EXPECT_EQ(Contents(), before);
}

// ---- Bad input and limits ----------------------------------------------------------------------

TEST_P(EngineConformance, BadInput_EmptyOrOversizedKeyOrValue_InvalidArgumentNothingChanges) {
  const phase1::Limits& limits = GetParam().limits;
  const std::string long_key(limits.max_key_bytes + 1, 'K');
  const std::string long_value(limits.max_value_bytes + 1, 'V');
  ASSERT_OK(engine_->Put({}, "k", "v"));
  // The oversized key's prefix of the allowed length exists, so a truncating engine would
  // overwrite or delete it.
  ASSERT_OK(engine_->Put({}, long_key.substr(0, limits.max_key_bytes), "prefix"));
  const Model before = Contents();
  for (const bool sync : {false, true}) {
    WriteOptions options;
    options.sync = sync;
    EXPECT_STATUS(engine_->Put(options, "", "v"), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Put(options, "", ""), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Put(options, long_key, "v"), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Put(options, "k", long_value), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Put(options, "new", long_value), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Delete(options, ""), StatusCode::kInvalidArgument);
    EXPECT_STATUS(engine_->Delete(options, long_key), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Contents(), before);
  EXPECT_EQ(engine_->Get({}, "k").value_or("<missing>"), "v");
  FlushAndMaintain();
  EXPECT_EQ(Contents(), before);
  Reopen();
  EXPECT_EQ(Contents(), before);
  ASSERT_OK(GetParam().check_invariants(*engine_));
}

TEST_P(EngineConformance, Limits_KeyAndValueOfExactlyTheMaximumSize_AreAccepted) {
  const phase1::Limits& limits = GetParam().limits;
  const std::string max_key(limits.max_key_bytes, 'K');
  const std::string max_value = MakeValue(1, limits.max_value_bytes);
  ASSERT_OK(engine_->Put({}, max_key, max_value));
  ASSERT_OK(engine_->Put({}, "small key", max_value));
  ASSERT_OK(engine_->Put({}, std::string(limits.max_key_bytes, 'M'), "small value"));
  WriteBatch batch;
  batch.Put(std::string(limits.max_key_bytes, 'B'), MakeValue(2, limits.max_value_bytes));
  ASSERT_OK(engine_->Write({}, batch));
  const Model want = {
      {max_key, max_value},
      {"small key", max_value},
      {std::string(limits.max_key_bytes, 'M'), "small value"},
      {std::string(limits.max_key_bytes, 'B'), MakeValue(2, limits.max_value_bytes)}};
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round == 0 ? "written" : round == 1 ? "flushed" : "reopened");
    EXPECT_TRUE(Contents() == want) << "the maximum-size entries do not read back";
    EXPECT_TRUE(engine_->Get({}, max_key).value_or("<missing>") == max_value);
    if (round == 0) FlushAndMaintain();
    if (round == 1) Reopen();
  }
  ASSERT_OK(engine_->Delete({}, max_key));
  EXPECT_STATUS(engine_->Get({}, max_key), StatusCode::kNotFound);
}

// ---- Durability across reopen ------------------------------------------------------------------

// Destroying the engine and opening it again keeps every acknowledged write, synced or not
// (the in-memory file system never loses power), whether it was still in memory or in the
// files, and a reopened engine reopens again.
TEST_P(EngineConformance, Reopen_KeepsEveryAcknowledgedWrite_SyncedOrNot) {
  WriteOptions sync;
  sync.sync = true;
  Model model;
  ASSERT_OK(engine_->Put(sync, "a", "synced"));
  ASSERT_OK(engine_->Put({}, "b", "not synced"));
  WriteBatch batch;
  batch.Put("c", "batch");
  batch.Delete("a");
  ASSERT_OK(engine_->Write(sync, batch));
  // Enough to go through several flushes, with values of every size.
  for (int i = 0; i < 400; ++i) {
    const std::string key = fmt::format("key{:03}", i % 150);
    const std::string value = MakeValue(i, static_cast<std::size_t>((i * 131) % 6000));
    ASSERT_OK(engine_->Put(i % 7 == 0 ? sync : WriteOptions{}, key, value));
    model[key] = value;
  }
  ASSERT_OK(engine_->Delete(sync, "b"));
  ASSERT_OK(engine_->Put({}, "e", ""));
  ASSERT_OK(engine_->Sync());
  ASSERT_OK(engine_->Put({}, "f", "after the last sync"));
  model["c"] = "batch";
  model["e"] = "";
  model["f"] = "after the last sync";
  for (int round = 0; round < 2; ++round) {
    Reopen();
    ASSERT_OK(GetParam().check_invariants(*engine_));
    EXPECT_TRUE(Contents() == model) << "round " << round;
    EXPECT_STATUS(engine_->Get({}, "a"), StatusCode::kNotFound);
    EXPECT_STATUS(engine_->Get({}, "b"), StatusCode::kNotFound);
  }
  // And writes after a reopen join the rest.
  ASSERT_OK(engine_->Put({}, "g", "after reopening"));
  model["g"] = "after reopening";
  Reopen();
  EXPECT_TRUE(Contents() == model);
}

// ---- Concurrency -------------------------------------------------------------------------------

// The workload of the concurrency test: writer w writes keys "w<w>-000".. in rounds; in each
// round every key gets the value ConcurrentValue(key, round), except that in the odd rounds
// before the last, every fifth key is deleted instead. Two neighbouring keys go in one batch now
// and then.
constexpr int kConcurrentRounds = 6;
constexpr int kConcurrentKeys = 300;

std::string ConcurrentKey(int writer, int i) { return fmt::format("w{}-{:03}", writer, i); }

bool DeletedInRound(int round, int i) {
  return round % 2 == 1 && round < kConcurrentRounds - 1 && i % 5 == 0;
}

// "<key>=<round>;" and a filler whose length depends on both, so readers can tell whose value
// they hold and how new it is.
std::string ConcurrentValue(std::string_view key, int round) {
  std::string v = fmt::format("{}={};", key, round);
  v.resize(
      v.size() + static_cast<std::size_t>((round * 53 + static_cast<int>(key.size()) * 11) % 300),
      '.');
  return v;
}

// The round `value` was written in, if it is one of the values written for `key`; else -1.
int RoundOf(std::string_view key, std::string_view value) {
  for (int round = 0; round < kConcurrentRounds; ++round) {
    if (value == ConcurrentValue(key, round)) return round;
  }
  return -1;
}

// Two writers over disjoint keys, one thread doing maintenance and flushes, and readers doing
// Gets and short scans meanwhile. A reader sees only values written for the key it reads, never
// an older round of a key after a newer one, and every write of the rounds its writer had
// finished before the read began. Afterwards everything reads back, also after a reopen.
TEST_P(EngineConformance, Concurrent_ReadersWritersAndMaintenance_ReadOnlyWrittenValues) {
  constexpr int kWriters = 2;
  constexpr int kReaders = 3;
  std::array<std::atomic<int>, kWriters> rounds_done{};  // Per writer, rounds it has finished.
  std::atomic<int> writers_left{kWriters};
  std::mutex errors_mu;
  std::vector<std::string> errors;  // GUARDED_BY(errors_mu)
  auto error = [&](std::string message) {
    std::lock_guard lock(errors_mu);
    if (errors.size() < 10) errors.push_back(std::move(message));
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < kConcurrentRounds; ++round) {
        for (int i = 0; i < kConcurrentKeys; ++i) {
          const std::string key = ConcurrentKey(w, i);
          Status s;
          if (DeletedInRound(round, i)) {
            s = engine_->Delete({}, key);
          } else if (i % 10 == 1) {  // This key and the next (never a deleted one) in one batch.
            const std::string next = ConcurrentKey(w, i + 1);
            WriteBatch batch;
            batch.Put(key, ConcurrentValue(key, round));
            batch.Put(next, ConcurrentValue(next, round));
            s = engine_->Write({}, batch);
            ++i;
          } else {
            s = engine_->Put({}, key, ConcurrentValue(key, round));
          }
          if (!s.ok()) error(fmt::format("writing {}: {}", key, s.ToString()));
        }
        rounds_done[static_cast<std::size_t>(w)].store(round + 1);
      }
      --writers_left;
    });
  }
  threads.emplace_back([&] {
    for (int n = 1; writers_left.load() > 0; ++n) {
      const Status s = n % 8 == 0 ? engine_->Flush() : GetParam().maintenance(*engine_);
      if (!s.ok()) error("maintenance: " + s.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      Random rng(static_cast<std::uint64_t>(r) + 1);
      std::map<std::string, int, std::less<>> newest_seen;
      // A value read for `key`: one written for it, and no older than one seen before.
      auto check_value = [&](std::string_view key, std::string_view value) -> int {
        const int round = RoundOf(key, value);
        if (round < 0) {
          error(fmt::format("{:?} read as {:?}, never written for it", key, value.substr(0, 40)));
          return round;
        }
        auto [it, fresh] = newest_seen.try_emplace(std::string(key), round);
        if (!fresh && round < it->second) {
          error(fmt::format("{:?} went back from round {} to {}", key, it->second, round));
        }
        it->second = std::max(it->second, round);
        return round;
      };
      while (writers_left.load() > 0) {
        const int w = static_cast<int>(rng.Uniform(kWriters));
        const int i = static_cast<int>(rng.Uniform(kConcurrentKeys));
        const std::string key = ConcurrentKey(w, i);
        if (rng.Uniform(3) != 0) {
          // The rounds the writer had finished before the Get began must show: a value of the
          // last of them or newer, or no value if that round or a later one deleted the key.
          const int done = rounds_done[static_cast<std::size_t>(w)].load();
          const int oldest_allowed = done == 0 || DeletedInRound(done - 1, i) ? done : done - 1;
          bool may_be_absent = done == 0;
          for (int later = std::max(done - 1, 0); later < kConcurrentRounds; ++later) {
            may_be_absent = may_be_absent || DeletedInRound(later, i);
          }
          auto got = engine_->Get({}, key);
          if (got.has_value()) {
            const int round = check_value(key, *got);
            if (round >= 0 && round < oldest_allowed) {
              error(fmt::format("{:?} read at round {} after round {} was written", key, round,
                                done - 1));
            }
          } else if (got.error().code() != StatusCode::kNotFound) {
            error(fmt::format("Get({}): {}", key, got.error().ToString()));
          } else if (!may_be_absent) {
            error(fmt::format("{:?} not found after round {} wrote it ({})", key, done - 1,
                              got.error().ToString()));
          }
        } else {
          auto it = engine_->NewIterator({});
          std::string previous;
          int n = 0;
          for (it->Seek(key); it->Valid() && n < 8; it->Next(), ++n) {
            if (it->key() < key || (n > 0 && it->key() <= previous)) {
              error(fmt::format("a scan from {:?} went to {:?}", key, it->key()));
            }
            previous = std::string(it->key());
            check_value(it->key(), it->value());
          }
          if (!it->status().ok()) error("scan: " + it->status().ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& e : errors) ADD_FAILURE() << e;

  Model want;
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kConcurrentKeys; ++i) {
      want[ConcurrentKey(w, i)] = ConcurrentValue(ConcurrentKey(w, i), kConcurrentRounds - 1);
    }
  }
  ASSERT_OK(GetParam().check_invariants(*engine_));
  EXPECT_TRUE(Contents() == want);
  Reopen();
  EXPECT_TRUE(Contents() == want);
}

// ---- Description -------------------------------------------------------------------------------

TEST_P(EngineConformance, NameAndDescribeState_NonEmpty) {
  EXPECT_FALSE(engine_->name().empty());
  EXPECT_FALSE(engine_->DescribeState().empty());
  ASSERT_OK(engine_->Put({}, "k", "v"));
  FlushAndMaintain();
  EXPECT_FALSE(engine_->DescribeState().empty());
}

std::string EngineName(const ::testing::TestParamInfo<EngineUnderTest>& engine) {
  return engine.param.name;
}
INSTANTIATE_TEST_SUITE_P(Engines, EngineConformance, ::testing::ValuesIn(EnginesUnderTest()),
                         EngineName);

}  // namespace
}  // namespace kv::storage::testing
