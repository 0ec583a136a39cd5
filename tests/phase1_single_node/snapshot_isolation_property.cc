// The snapshot-isolation property: the schedule generator and the checker
// (snapshot_isolation_property.h).
#include "tests/phase1_single_node/snapshot_isolation_property.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/status.h"
#include "phase1_single_node/mem_engine.h"
#include "phase1_single_node/store.h"
#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1::testing {
namespace {

// A few keys, so that transactions collide often.
constexpr std::array<std::string_view, 3> kKeys = {"a", "b", "c"};
constexpr int kMaxTxns = 4;
constexpr char kDir[] = "db";

enum class StepKind { kBegin, kGet, kPut, kDelete, kCommit, kAbort, kCheckpoint, kReopen };

// One step of a schedule. `txn` is a slot 0..3; a slot holds at most one active transaction, and
// a Get/Put/Delete on an empty slot begins one there first. Commit/Abort on an empty slot checks
// that the slot's previous, ended TxnId is refused.
struct Step {
  StepKind kind = StepKind::kGet;
  int txn = 0;
  int key = 0;
  bool empty_value = false;  // For kPut: write "" instead of a value unique to this step.
};

std::ostream& operator<<(std::ostream& os, const Step& s) {
  static constexpr const char* kNames[] = {"Begin",  "Get",   "Put",        "Delete",
                                           "Commit", "Abort", "Checkpoint", "Reopen"};
  os << kNames[static_cast<int>(s.kind)];
  switch (s.kind) {
    case StepKind::kCheckpoint:
    case StepKind::kReopen:
      return os;
    case StepKind::kGet:
    case StepKind::kDelete:
      return os << "(T" << s.txn << ", " << kKeys[s.key] << ")";
    case StepKind::kPut:
      return os << "(T" << s.txn << ", " << kKeys[s.key] << (s.empty_value ? ", empty)" : ")");
    default:
      return os << "(T" << s.txn << ")";
  }
}

rc::Gen<Step> GenStep(int num_txns) {
  return rc::gen::build<Step>(
      rc::gen::set(&Step::kind, rc::gen::weightedElement<StepKind>({
                                    {2, StepKind::kBegin},
                                    {6, StepKind::kGet},
                                    {6, StepKind::kPut},
                                    {2, StepKind::kDelete},
                                    {4, StepKind::kCommit},
                                    {1, StepKind::kAbort},
                                    {1, StepKind::kCheckpoint},
                                    {1, StepKind::kReopen},
                                })),
      rc::gen::set(&Step::txn, rc::gen::inRange(0, num_txns)),
      rc::gen::set(&Step::key, rc::gen::inRange(0, static_cast<int>(kKeys.size()))),
      rc::gen::set(&Step::empty_value, rc::gen::weightedElement<bool>({{1, true}, {5, false}})));
}

// A transaction of the model: its store id, its snapshot, its buffered writes.
struct ModelTxn {
  TxnId id = 0;
  std::size_t snapshot = 0;  // History::size() when it began.
  Writes writes;
};

std::unique_ptr<Store> OpenStore(FileSystem& fs, const EngineFactory& factory) {
  StoreOptions options;  // Default limits; SyncPolicy::kAlways (free on a MemFileSystem).
  options.engine_factory = factory;
  auto store = Store::Open(fs, kDir, std::move(options));
  RC_ASSERT(store.has_value());
  return std::move(store).value();
}

// A fresh transaction sees exactly `expected`.
void CheckCommittedState(Store& store, const State& expected) {
  TxnId t = store.BeginTransaction();
  for (std::string_view key : kKeys) {
    auto got = store.Get(t, key);
    RC_ASSERT(got.has_value());
    auto it = expected.find(key);
    const std::optional<std::string> want =
        it == expected.end() ? std::nullopt : std::optional<std::string>(it->second);
    RC_ASSERT(*got == want);
  }
  RC_ASSERT(store.Abort(t).ok());
}

class SnapshotIsolationChecker {
 public:
  SnapshotIsolationChecker(FileSystem& fs, const EngineFactory& factory, int num_txns)
      : fs_(fs), factory_(factory), slots_(num_txns), ended_(num_txns) {
    store_ = OpenStore(fs_, factory_);
  }

  ~SnapshotIsolationChecker() {
    // The store must outlive no transaction; end whatever a failed run left open.
    if (store_ != nullptr) {
      for (auto& slot : slots_) {
        if (slot.has_value()) (void)store_->Abort(slot->id);
      }
    }
  }

  void Run(const std::vector<Step>& steps) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      RC_LOG() << "step " << i << ": " << steps[i] << "\n";
      Apply(steps[i], i);
      RC_ASSERT(store_->stats().active_transactions == ActiveCount());
    }
    // Whatever the schedule, end with every transaction ended and the state surviving a reopen.
    Reopen();
  }

 private:
  void Apply(const Step& step, std::size_t index) {
    std::optional<ModelTxn>& slot = slots_[step.txn];
    const std::string key(kKeys[step.key]);
    switch (step.kind) {
      case StepKind::kBegin:
        if (!slot.has_value()) Begin(step.txn);
        return;
      case StepKind::kGet: {
        if (!slot.has_value()) Begin(step.txn);
        auto got = store_->Get(slot->id, key);
        RC_ASSERT(got.has_value());
        RC_ASSERT(*got == Expected(*slot, key));
        return;
      }
      case StepKind::kPut: {
        if (!slot.has_value()) Begin(step.txn);
        std::string value = step.empty_value ? "" : "s" + std::to_string(index);
        RC_ASSERT(store_->Put(slot->id, key, value).ok());
        slot->writes[key] = std::move(value);
        return;
      }
      case StepKind::kDelete:
        if (!slot.has_value()) Begin(step.txn);
        RC_ASSERT(store_->Delete(slot->id, key).ok());
        slot->writes[key] = std::nullopt;
        return;
      case StepKind::kCommit:
        if (!slot.has_value()) return CheckEndedIdRefused(step.txn);
        return Commit(step.txn);
      case StepKind::kAbort:
        if (!slot.has_value()) return CheckEndedIdRefused(step.txn);
        RC_ASSERT(store_->Abort(slot->id).ok());
        End(step.txn);
        return;
      case StepKind::kCheckpoint:
        // Runs while transactions are open: it must neither change what they read nor what
        // later transactions see.
        RC_ASSERT(store_->Checkpoint().ok());
        return;
      case StepKind::kReopen:
        Reopen();
        return;
    }
  }

  void Begin(int slot) {
    slots_[slot] =
        ModelTxn{.id = store_->BeginTransaction(), .snapshot = history_.size(), .writes = {}};
  }

  void End(int slot) {
    ended_[slot] = slots_[slot]->id;
    slots_[slot].reset();
  }

  std::optional<std::string> Expected(const ModelTxn& txn, std::string_view key) const {
    if (auto it = txn.writes.find(key); it != txn.writes.end()) return it->second;
    const State snapshot = history_.StateAt(txn.snapshot);
    if (auto it = snapshot.find(key); it != snapshot.end()) return it->second;
    return std::nullopt;
  }

  void Commit(int slot) {
    ModelTxn& txn = *slots_[slot];
    const std::vector<std::string> conflicts = history_.ConflictingKeys(txn.writes, txn.snapshot);
    const Status s = store_->Commit(txn.id);
    if (conflicts.empty()) {
      RC_ASSERT(s.ok());
      if (!txn.writes.empty()) history_.Commit(txn.writes);
    } else {
      RC_ASSERT(s.code() == StatusCode::kConflict);
      bool names_a_key = false;
      for (const auto& k : conflicts) {
        names_a_key |= s.message().find("'" + k + "'") != std::string::npos;
      }
      RC_ASSERT(names_a_key);
    }
    const TxnId id = txn.id;
    End(slot);
    // Committed or not, the id is gone.
    RC_ASSERT(store_->Commit(id).code() == StatusCode::kInvalidArgument);
    CheckCommittedState(*store_, history_.StateAt(history_.size()));
  }

  void CheckEndedIdRefused(int slot) {
    if (!ended_[slot].has_value()) return;
    RC_ASSERT(store_->Get(*ended_[slot], kKeys[0]).status().code() == StatusCode::kInvalidArgument);
    RC_ASSERT(store_->Put(*ended_[slot], kKeys[0], "x").code() == StatusCode::kInvalidArgument);
  }

  // Ends every open transaction (a Store may be destroyed only with none open), destroys the
  // store, opens it again on the same file system and checks the committed state survived.
  void Reopen() {
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
      if (!slots_[i].has_value()) continue;
      RC_ASSERT(store_->Abort(slots_[i]->id).ok());
      slots_[i].reset();
    }
    // Ids of the old store mean nothing to the new one (and may be handed out again).
    for (auto& id : ended_) id.reset();
    store_.reset();
    store_ = OpenStore(fs_, factory_);
    CheckCommittedState(*store_, history_.StateAt(history_.size()));
  }

  std::size_t ActiveCount() const {
    std::size_t n = 0;
    for (const auto& slot : slots_) n += slot.has_value() ? 1 : 0;
    return n;
  }

  FileSystem& fs_;
  const EngineFactory factory_;
  std::unique_ptr<Store> store_;
  History history_;
  std::vector<std::optional<ModelTxn>> slots_;
  std::vector<std::optional<TxnId>> ended_;  // The last ended id of each slot.
};

}  // namespace

// The property, for any engine: generates a schedule and checks it against the model.
void CheckSnapshotIsolation(const EngineFactory& factory) {
  const int num_txns = *rc::gen::inRange(2, kMaxTxns + 1);
  const auto steps = *rc::gen::container<std::vector<Step>>(GenStep(num_txns));
  auto fs = NewMemFileSystem();
  SnapshotIsolationChecker checker(*fs, factory, num_txns);
  checker.Run(steps);
}

}  // namespace kv::phase1::testing
