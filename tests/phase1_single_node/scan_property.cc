// The range-scan property: the schedule generator, the model and the checker (scan_property.h).
#include "tests/phase1_single_node/scan_property.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/status.h"

namespace kv::phase1::testing {
namespace {

using namespace std::string_literals;

// Keys that sort in awkward ways: "a" is a prefix of "a\0", of "a\0b" and of "ab"; "a\0" sorts
// before "ab" only if 0x00 is the smallest byte; "\xff" last only if bytes compare unsigned. An
// ordered engine that encodes keys (the versioned key escapes 0x00) must keep this order.
const std::vector<std::string>& Keys() {
  static const auto* keys =
      new std::vector<std::string>{"a", "a\0"s, "a\0b"s, "ab", "b", "ba", "c", "\xff"};
  return *keys;
}

// Scan bounds: the open bound "", every key, and some bytes strings between and around them.
const std::vector<std::string>& Bounds() {
  static const auto* bounds = [] {
    auto* b =
        new std::vector<std::string>{"", "\x01", "a\x01", "aa", "b\0"s, "bb", "d", "\xff\xff"};
    b->insert(b->end(), Keys().begin(), Keys().end());
    return b;
  }();
  return *bounds;
}

constexpr int kMaxTxns = 3;
constexpr char kDir[] = "db";

enum class StepKind { kBegin, kPut, kDelete, kCommit, kAbort, kScan, kCheckpoint, kReopen };

// One step. `txn` is a slot; a Put, Delete or Scan on an empty slot begins a transaction there.
struct Step {
  StepKind kind = StepKind::kScan;
  int txn = 0;
  int key = 0;               // Put, Delete.
  bool empty_value = false;  // Put: "" instead of a value unique to the step.
  int start = 0;             // Scan: indices into Bounds().
  int end = 0;
  std::size_t limit = 0;  // Scan: 0 is no limit.
};

std::string Printable(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out + "\"";
}

std::string Show(const std::vector<KeyValue>& pairs) {
  std::string out = "[";
  for (const auto& [key, value] : pairs) {
    out += (out.size() > 1 ? ", " : "") + Printable(key) + "=" + Printable(value);
  }
  return out + "]";
}

std::ostream& operator<<(std::ostream& os, const Step& s) {
  static constexpr const char* kNames[] = {"Begin", "Put",  "Delete",     "Commit",
                                           "Abort", "Scan", "Checkpoint", "Reopen"};
  os << kNames[static_cast<int>(s.kind)];
  switch (s.kind) {
    case StepKind::kCheckpoint:
    case StepKind::kReopen:
      return os;
    case StepKind::kPut:
      return os << "(T" << s.txn << ", " << Printable(Keys()[s.key])
                << (s.empty_value ? ", empty)" : ")");
    case StepKind::kDelete:
      return os << "(T" << s.txn << ", " << Printable(Keys()[s.key]) << ")";
    case StepKind::kScan:
      return os << "(T" << s.txn << ", [" << Printable(Bounds()[s.start]) << ", "
                << Printable(Bounds()[s.end]) << "), limit " << s.limit << ")";
    default:
      return os << "(T" << s.txn << ")";
  }
}

rc::Gen<Step> GenStep(int num_txns) {
  return rc::gen::build<Step>(
      rc::gen::set(&Step::kind, rc::gen::weightedElement<StepKind>({
                                    {1, StepKind::kBegin},
                                    {6, StepKind::kPut},
                                    {3, StepKind::kDelete},
                                    {3, StepKind::kCommit},
                                    {1, StepKind::kAbort},
                                    {6, StepKind::kScan},
                                    {1, StepKind::kCheckpoint},
                                    {1, StepKind::kReopen},
                                })),
      rc::gen::set(&Step::txn, rc::gen::inRange(0, num_txns)),
      rc::gen::set(&Step::key, rc::gen::inRange(0, static_cast<int>(Keys().size()))),
      rc::gen::set(&Step::empty_value, rc::gen::weightedElement<bool>({{1, true}, {5, false}})),
      // Open bounds often, so that whole-table scans (and their limits) are common.
      rc::gen::set(&Step::start, rc::gen::weightedOneOf<int>({
                                     {1, rc::gen::just(0)},
                                     {3, rc::gen::inRange(0, static_cast<int>(Bounds().size()))},
                                 })),
      rc::gen::set(&Step::end, rc::gen::weightedOneOf<int>({
                                   {1, rc::gen::just(0)},
                                   {3, rc::gen::inRange(0, static_cast<int>(Bounds().size()))},
                               })),
      rc::gen::set(&Step::limit, rc::gen::inRange<std::size_t>(0, 5)));
}

struct ModelTxn {
  TxnId id = 0;
  std::size_t snapshot = 0;     // History::size() when it began.
  Writes writes;                // Its buffered writes.
  std::set<std::string> reads;  // The keys it has been handed from its snapshot.
};

std::unique_ptr<Store> OpenStore(FileSystem& fs, const EngineFactory& factory) {
  StoreOptions options;
  options.engine_factory = factory;
  auto store = Store::Open(fs, kDir, std::move(options));
  RC_ASSERT(store.has_value());
  return std::move(store).value();
}

class ScanChecker {
 public:
  ScanChecker(FileSystem& fs, const EngineFactory& factory, int num_txns)
      : fs_(fs), factory_(factory), slots_(num_txns) {
    store_ = OpenStore(fs_, factory_);
  }

  ~ScanChecker() {
    if (store_ == nullptr) return;
    for (auto& slot : slots_) {
      if (slot.has_value()) (void)store_->Abort(slot->id);
    }
  }

  void Run(const std::vector<Step>& steps) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      RC_LOG() << "step " << i << ": " << steps[i] << "\n";
      Apply(steps[i], i);
    }
    // Whatever the schedule, a whole-table scan after a reopen sees the committed state.
    Reopen();
  }

 private:
  void Apply(const Step& step, std::size_t index) {
    std::optional<ModelTxn>& slot = slots_[step.txn];
    const bool begins = step.kind == StepKind::kBegin || step.kind == StepKind::kPut ||
                        step.kind == StepKind::kDelete || step.kind == StepKind::kScan;
    if (begins && !slot.has_value()) {
      slot = ModelTxn{
          .id = store_->BeginTransaction(), .snapshot = history_.size(), .writes = {}, .reads = {}};
    }
    switch (step.kind) {
      case StepKind::kBegin:
        return;
      case StepKind::kPut: {
        const std::string& key = Keys()[step.key];
        std::string value = step.empty_value ? "" : "v" + std::to_string(index);
        RC_ASSERT(store_->Put(slot->id, key, value).ok());
        slot->writes[key] = std::move(value);
        return;
      }
      case StepKind::kDelete: {
        const std::string& key = Keys()[step.key];
        RC_ASSERT(store_->Delete(slot->id, key).ok());
        slot->writes[key] = std::nullopt;
        return;
      }
      case StepKind::kCommit:
        if (slot.has_value()) Commit(*slot);
        slot.reset();
        return;
      case StepKind::kAbort:
        if (slot.has_value()) RC_ASSERT(store_->Abort(slot->id).ok());
        slot.reset();
        return;
      case StepKind::kScan:
        return Scan(*slot, Bounds()[step.start], Bounds()[step.end], step.limit);
      case StepKind::kCheckpoint:
        RC_ASSERT(store_->Checkpoint().ok());
        return;
      case StepKind::kReopen:
        return Reopen();
    }
  }

  void Scan(ModelTxn& txn, std::string_view start, std::string_view end, std::size_t limit) {
    auto got = store_->Scan(txn.id, start, end, limit);
    if (!end.empty() && start > end) {
      RC_ASSERT(got.status().code() == StatusCode::kInvalidArgument);
    } else {
      if (!got.has_value()) RC_LOG() << "scan failed: " << got.error().ToString() << "\n";
      RC_ASSERT(got.has_value());
      const std::vector<KeyValue> want =
          ExpectedScan(history_.StateAt(txn.snapshot), txn.writes, start, end, limit);
      if (*got != want)
        RC_LOG() << "scan returned " << Show(*got) << ", want " << Show(want) << "\n";
      RC_ASSERT(*got == want);
      for (const auto& [key, value] : want) {
        if (!txn.writes.contains(key)) txn.reads.insert(key);
      }
    }
    auto read_set = store_->ReadSet(txn.id);
    RC_ASSERT(read_set.has_value());
    RC_ASSERT(*read_set == std::vector<std::string>(txn.reads.begin(), txn.reads.end()));
  }

  void Commit(const ModelTxn& txn) {
    const bool conflicts = !history_.ConflictingKeys(txn.writes, txn.snapshot).empty();
    const Status s = store_->Commit(txn.id);
    if (conflicts) {
      RC_ASSERT(s.code() == StatusCode::kConflict);
    } else {
      RC_ASSERT(s.ok());
      if (!txn.writes.empty()) history_.Commit(txn.writes);
    }
  }

  // Aborts every open transaction, reopens the store and checks a full scan of the new store.
  void Reopen() {
    for (auto& slot : slots_) {
      if (slot.has_value()) RC_ASSERT(store_->Abort(slot->id).ok());
      slot.reset();
    }
    store_.reset();
    store_ = OpenStore(fs_, factory_);
    ModelTxn fresh{
        .id = store_->BeginTransaction(), .snapshot = history_.size(), .writes = {}, .reads = {}};
    Scan(fresh, "", "", 0);
    RC_ASSERT(store_->Abort(fresh.id).ok());
  }

  FileSystem& fs_;
  const EngineFactory factory_;
  std::unique_ptr<Store> store_;
  History history_;
  std::vector<std::optional<ModelTxn>> slots_;
};

}  // namespace

std::vector<KeyValue> ExpectedScan(const State& snapshot, const Writes& writes,
                                   std::string_view start, std::string_view end,
                                   std::size_t limit) {
  State merged = snapshot;
  for (const auto& [key, value] : writes) {
    if (value.has_value()) {
      merged[key] = *value;
    } else {
      merged.erase(key);
    }
  }
  std::vector<KeyValue> out;
  for (auto it = merged.lower_bound(start); it != merged.end(); ++it) {
    if (!end.empty() && it->first >= end) break;
    if (limit != 0 && out.size() == limit) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

void CheckScansAgainstModel(const EngineFactory& factory) {
  const int num_txns = *rc::gen::inRange(1, kMaxTxns + 1);
  const auto steps = *rc::gen::container<std::vector<Step>>(GenStep(num_txns));
  auto fs = NewMemFileSystem();
  ScanChecker checker(*fs, factory, num_txns);
  checker.Run(steps);
}

}  // namespace kv::phase1::testing
