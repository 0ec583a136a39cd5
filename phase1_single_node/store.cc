#include "phase1_single_node/store.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/check.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/mem_engine.h"
#include "phase1_single_node/record_log.h"

namespace kv::phase1 {

std::string RecoveryReport::Summary() const {
  std::string out = checkpoint_file.empty()
                        ? "no checkpoint"
                        : fmt::format("checkpoint {} ({} keys @ts {})", BaseName(checkpoint_file),
                                      checkpoint.entries, checkpoint.ts);
  out +=
      fmt::format("; replayed {} transactions from {} segment(s)", wal.transactions, wal.segments);
  if (wal.incomplete > 0) out += fmt::format("; discarded {} uncommitted", wal.incomplete);
  if (wal.torn_bytes > 0) {
    out += fmt::format("; truncated torn tail of {} bytes in {}", wal.torn_bytes,
                       BaseName(wal.torn_file));
  }
  if (wal.unused_room_bytes > 0) {
    out += fmt::format("; cut {} bytes of unused log room", wal.unused_room_bytes);
  }
  if (!wal.repair_message.empty()) out += "; " + wal.repair_message;
  return out;
}

Store::Store(FileSystem& fs, std::string dir, StoreOptions options)
    : fs_(fs), dir_(std::move(dir)), options_(std::move(options)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(FileSystem& fs, std::string dir, StoreOptions options) {
  if (!options.engine_factory) options.engine_factory = NewMemVersionedEngine;
  std::unique_ptr<Store> store(new Store(fs, std::move(dir), std::move(options)));
  KV_RETURN_IF_ERROR(store->Recover());
  return store;
}

Status Store::Recover() {
  // One put is one log record; a limit the log could not read back would lose data at recovery.
  if (options_.limits.max_key_bytes + options_.limits.max_value_bytes + 64 > kMaxRecordBytes) {
    return Status::InvalidArgument(fmt::format(
        "key and value limits ({} + {} bytes) exceed the log's record limit of {} bytes",
        options_.limits.max_key_bytes, options_.limits.max_value_bytes, kMaxRecordBytes));
  }
  KV_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
  KV_ASSIGN_OR_RETURN(lock_, fs_.LockFile(JoinPath(dir_, kLockFileName)));
  engine_ = options_.engine_factory();
  if (engine_ == nullptr) return Status::Aborted("the engine factory could not build an engine");

  KV_ASSIGN_OR_RETURN(auto names, fs_.ListDir(dir_));
  std::vector<std::uint64_t> segments, checkpoints;
  for (const auto& name : names) {
    if (name.ends_with(".tmp")) {
      // A checkpoint that never got its name: it was never part of the store.
      KV_RETURN_IF_ERROR(fs_.RemoveFile(JoinPath(dir_, name)));
      recovery_.removed_files.push_back(name);
    } else if (auto n = ParseWalSegmentName(name)) {
      segments.push_back(*n);
    } else if (auto c = ParseCheckpointName(name)) {
      checkpoints.push_back(*c);
    }
  }
  std::ranges::sort(segments);
  std::ranges::sort(checkpoints);

  // 1. The newest checkpoint. Older ones and the segments it covers are leftovers of a
  //    checkpoint whose clean-up did not finish; they are removed below.
  std::uint64_t first_segment = 0;
  Timestamp checkpoint_ts = 0;
  if (!checkpoints.empty()) {
    recovery_.checkpoint_file = JoinPath(dir_, CheckpointName(checkpoints.back()));
    // The entries go to the engine in chunks, all at the checkpoint's timestamp (each key once),
    // so that opening a store needs memory for one chunk, not for the whole checkpoint: on an
    // engine that keeps its data on disk (phase 2), the store may be larger than memory.
    constexpr std::size_t kApplyChunk = 4096;
    std::vector<Write> batch;
    std::size_t batch_bytes = 0;
    auto apply_batch = [&]() -> Status {
      Status s = batch.empty() ? Status::Ok() : engine_->Apply(batch, checkpoint_ts);
      batch.clear();
      batch_bytes = 0;
      return s;
    };
    KV_ASSIGN_OR_RETURN(
        recovery_.checkpoint,
        ReadCheckpoint(
            fs_, recovery_.checkpoint_file,
            [&](const CheckpointInfo& header) {
              checkpoint_ts = header.ts;
              return Status::Ok();
            },
            [&](std::string_view k, std::string_view v) {
              if (checkpoint_ts == 0) {
                return Status::Corruption(fmt::format("{}: checkpoint with entries has timestamp 0",
                                                      recovery_.checkpoint_file));
              }
              batch.push_back(Write{std::string(k), std::string(v)});
              batch_bytes += k.size() + v.size();
              return batch.size() >= kApplyChunk || batch_bytes >= options_.recovery_chunk_bytes
                         ? apply_batch()
                         : Status::Ok();
            }));
    KV_RETURN_IF_ERROR(apply_batch());
    first_segment = recovery_.checkpoint.first_segment;
    if (first_segment != checkpoints.back()) {
      return Status::Corruption(fmt::format("{}: names segment {} but says {}",
                                            recovery_.checkpoint_file, checkpoints.back(),
                                            first_segment));
    }
  }

  // 2. The log after it. Segments must be consecutive: a gap means a lost file.
  std::vector<std::uint64_t> replay;
  for (auto n : segments) {
    if (n >= first_segment) replay.push_back(n);
  }
  // The first one is known too: segment 1 for a store without a checkpoint, else the segment the
  // checkpoint names (a checkpoint's rotation makes that segment durable before the checkpoint
  // is written). The newest segment cannot be checked this way; see the journal's known limits.
  const std::uint64_t expected_first = checkpoints.empty() ? 1 : first_segment;
  const bool fresh = checkpoints.empty() && segments.empty();
  if (!fresh && (replay.empty() || replay.front() != expected_first)) {
    return Status::Corruption(
        fmt::format("{}: log segment {} is missing", dir_, WalSegmentName(expected_first)));
  }
  for (std::size_t i = 1; i < replay.size(); ++i) {
    if (replay[i] != replay[i - 1] + 1) {
      return Status::Corruption(
          fmt::format("{}: log segment {} is missing", dir_, WalSegmentName(replay[i - 1] + 1)));
    }
  }
  KV_ASSIGN_OR_RETURN(recovery_.wal, ReplayWal(
                                         fs_, dir_, replay, checkpoint_ts, options_.repair,
                                         [&](Timestamp ts, std::span<Write> writes) {
                                           return engine_->Apply(writes, ts);
                                         },
                                         TornSegment::kCorruption,
                                         /*reserved_tail=*/true));

  Timestamp last = std::max(checkpoint_ts, recovery_.wal.last_commit_ts);
  last_assigned_ts_ = last;
  visible_ts_ = last;
  next_txn_id_.store(recovery_.wal.last_txn_id + 1);

  // 3. Make what was replayed durable before anything is logged after it. A previous run may
  //    have left bytes it never synced (a failed fdatasync, SyncPolicy::kNone); readers are about
  //    to see them, so a power cut must not take them away from under later, synced commits.
  //    Repair may have removed segments, so list them again.
  KV_ASSIGN_OR_RETURN(names, fs_.ListDir(dir_));
  std::uint64_t next_segment = std::max<std::uint64_t>(first_segment, 1);
  for (const auto& name : names) {
    auto n = ParseWalSegmentName(name);
    if (!n || *n < first_segment) continue;
    next_segment = std::max(next_segment, *n + 1);
    KV_ASSIGN_OR_RETURN(auto file, fs_.NewAppendableFile(JoinPath(dir_, name)));
    KV_RETURN_IF_ERROR(file->Sync());
    KV_RETURN_IF_ERROR(file->Close());
  }
  // 4. A fresh segment for new commits, after every existing one (its creation syncs the
  //    directory, which also makes a repair's removals durable).
  KV_ASSIGN_OR_RETURN(
      wal_, WalWriter::Create(fs_, dir_, next_segment, options_.sync, options_.sync_interval_micros,
                              options_.wal_reserve_bytes));
  KV_ASSIGN_OR_RETURN(auto removed, RemoveCoveredFiles(first_segment));
  recovery_.removed_files.insert(recovery_.removed_files.end(), removed.begin(), removed.end());
  return Status::Ok();
}

Result<std::vector<std::string>> Store::RemoveCoveredFiles(std::uint64_t first_segment) {
  KV_ASSIGN_OR_RETURN(auto names, fs_.ListDir(dir_));
  std::vector<std::string> removed;
  for (const auto& name : names) {
    auto seg = ParseWalSegmentName(name);
    auto ckpt = ParseCheckpointName(name);
    if ((seg && *seg < first_segment) || (ckpt && *ckpt < first_segment)) {
      KV_RETURN_IF_ERROR(fs_.RemoveFile(JoinPath(dir_, name)));
      removed.push_back(name);
    }
  }
  if (!removed.empty()) KV_RETURN_IF_ERROR(fs_.SyncDir(dir_));
  return removed;
}

TxnId Store::BeginTransaction() {
  const TxnId id = next_txn_id_.fetch_add(1);
  auto txn = std::make_shared<Txn>();
  {
    // Read under snapshots_mu_, so that a watermark computed later (also under snapshots_mu_)
    // cannot pass this snapshot before it is registered.
    std::lock_guard lock(snapshots_mu_);
    txn->start_ts = visible_ts_.load();
    snapshots_.insert(txn->start_ts);
  }
  TxnStripe& stripe = StripeOf(id);
  std::lock_guard lock(stripe.mu);
  stripe.txns.emplace(id, std::move(txn));
  return id;
}

Transaction Store::Begin() { return Transaction(this, BeginTransaction()); }

Result<std::shared_ptr<Store::Txn>> Store::Find(TxnId txn) const {
  TxnStripe& stripe = StripeOf(txn);
  std::lock_guard lock(stripe.mu);
  auto it = stripe.txns.find(txn);
  if (it == stripe.txns.end()) {
    return Status::InvalidArgument(fmt::format("no active transaction {}", txn));
  }
  return it->second;
}

Result<std::shared_ptr<Store::Txn>> Store::Take(TxnId txn) {
  TxnStripe& stripe = StripeOf(txn);
  std::lock_guard lock(stripe.mu);
  auto it = stripe.txns.find(txn);
  if (it == stripe.txns.end()) {
    return Status::InvalidArgument(fmt::format("no active transaction {}", txn));
  }
  auto t = std::move(it->second);
  stripe.txns.erase(it);
  return t;
}

Timestamp Store::ReleaseSnapshot(Timestamp start_ts) {
  std::lock_guard lock(snapshots_mu_);
  snapshots_.erase(snapshots_.find(start_ts));
  return WatermarkLocked();
}

Timestamp Store::WatermarkLocked() const {
  Timestamp w = visible_ts_.load();
  if (!snapshots_.empty()) w = std::min(w, *snapshots_.begin());
  return w;
}

Timestamp Store::Watermark() const {
  std::lock_guard lock(snapshots_mu_);
  return WatermarkLocked();
}

Result<std::optional<std::string>> Store::Get(TxnId txn, std::string_view key) {
  KV_RETURN_IF_ERROR(ValidateKey(options_.limits, key));
  KV_ASSIGN_OR_RETURN(auto t, Find(txn));
  std::lock_guard lock(t->mu);
  if (auto it = t->writes.find(key); it != t->writes.end()) return it->second;
  if (!t->reads.contains(key)) t->reads.emplace(key);
  return engine_->Get(key, t->start_ts);
}

Status Store::Put(TxnId txn, std::string_view key, std::string_view value) {
  KV_RETURN_IF_ERROR(ValidateKey(options_.limits, key));
  KV_RETURN_IF_ERROR(ValidateValue(options_.limits, value));
  KV_ASSIGN_OR_RETURN(auto t, Find(txn));
  std::lock_guard lock(t->mu);
  t->writes.insert_or_assign(std::string(key), std::optional<std::string>(value));
  return Status::Ok();
}

Status Store::Delete(TxnId txn, std::string_view key) {
  KV_RETURN_IF_ERROR(ValidateKey(options_.limits, key));
  KV_ASSIGN_OR_RETURN(auto t, Find(txn));
  std::lock_guard lock(t->mu);
  t->writes.insert_or_assign(std::string(key), std::nullopt);
  return Status::Ok();
}

Result<std::vector<KeyValue>> Store::Scan(TxnId txn, std::string_view start, std::string_view end,
                                          std::size_t limit) {
  // An empty bound is open; any other must be a valid key.
  if (!start.empty()) {
    KV_RETURN_IF_ERROR(ValidateKey(options_.limits, start).WithContext("scan start"));
  }
  if (!end.empty()) {
    KV_RETURN_IF_ERROR(ValidateKey(options_.limits, end).WithContext("scan end"));
  }
  if (!end.empty() && start > end) {
    return Status::InvalidArgument(
        fmt::format("scan start '{}' sorts after its end '{}'", start, end));
  }
  KV_ASSIGN_OR_RETURN(auto t, Find(txn));
  std::lock_guard lock(t->mu);
  const auto own_begin = t->writes.lower_bound(start);
  const auto own_end = end.empty() ? t->writes.end() : t->writes.lower_bound(end);

  // Each of the transaction's deletes in range can hide one key of the snapshot, so `limit` plus
  // that many snapshot keys are enough: all snapshot keys up to the last one fetched are known,
  // at least `limit` of them survive the merge, so the first `limit` merged pairs are exact.
  std::size_t snapshot_limit = limit;
  if (limit != 0) {
    for (auto it = own_begin; it != own_end; ++it) snapshot_limit += it->second ? 0 : 1;
  }
  std::vector<KeyValue> snapshot;
  KV_RETURN_IF_ERROR(engine_->Scan(start, end, t->start_ts, snapshot_limit,
                                   [&](std::string_view key, std::string_view value) {
                                     snapshot.emplace_back(key, value);
                                     return Status::Ok();
                                   }));

  // Merge the two sorted sequences; on equal keys the transaction's own write wins.
  std::vector<KeyValue> out;
  auto own = own_begin;
  auto snap = snapshot.begin();
  while ((limit == 0 || out.size() < limit) && (own != own_end || snap != snapshot.end())) {
    const bool take_own =
        snap == snapshot.end() || (own != own_end && std::string_view(own->first) <= snap->first);
    if (take_own) {
      if (snap != snapshot.end() && own->first == snap->first) ++snap;  // Shadowed by own write.
      if (own->second) out.emplace_back(own->first, *own->second);
      ++own;
    } else {
      t->reads.insert(snap->first);  // Copies the key only if it is new to the set.
      out.push_back(std::move(*snap));
      ++snap;
    }
  }
  return out;
}

Result<std::vector<std::string>> Store::ReadSet(TxnId txn) const {
  KV_ASSIGN_OR_RETURN(auto t, Find(txn));
  std::lock_guard lock(t->mu);
  return std::vector<std::string>(t->reads.begin(), t->reads.end());
}

Status Store::Abort(TxnId txn) {
  KV_ASSIGN_OR_RETURN(auto t, Take(txn));
  ReleaseSnapshot(t->start_ts);
  ++aborts_;
  return Status::Ok();
}

Status Store::Commit(TxnId txn) {
  KV_ASSIGN_OR_RETURN(auto t, Take(txn));
  // The snapshot stays registered until the conflict check is done. Released earlier, a
  // concurrent commit could prune a tombstone newer than our snapshot (the newest version of a
  // deleted key is dropped once no reader needs it) and the check below would miss the conflict:
  // a lost update that the transaction tests found.
  struct SnapshotGuard {
    Store* store;
    Timestamp ts;
    bool held = true;
    Timestamp ReleaseAndGetWatermark() {
      held = false;
      return store->ReleaseSnapshot(ts);
    }
    ~SnapshotGuard() {
      if (held) (void)store->ReleaseSnapshot(ts);
    }
  } snapshot{this, t->start_ts};
  std::lock_guard txn_lock(t->mu);
  if (t->writes.empty()) {  // Read-only: nothing to check or log.
    ++commits_;
    return Status::Ok();
  }
  if (Status e = wal_->error(); !e.ok()) {
    ++aborts_;
    return Status::Aborted("the store stopped taking writes after: " + e.ToString());
  }

  std::vector<Write> writes;
  writes.reserve(t->writes.size());
  for (auto& [key, value] : t->writes) writes.push_back(Write{key, std::move(value)});

  WalWriter::Ticket ticket;
  Timestamp commit_ts = 0;
  {
    std::lock_guard lock(commit_mu_);
    // First committer wins: any version newer than our snapshot was committed by a transaction
    // that overlapped us. (It may not be durable yet; it still came first.)
    for (const Write& w : writes) {
      KV_ASSIGN_OR_RETURN(Timestamp latest, engine_->LatestVersion(w.key));
      if (latest > t->start_ts) {
        ++conflicts_;
        return Status::Conflict(fmt::format(
            "write-write conflict on key '{}': committed at ts {} after this transaction's "
            "snapshot at ts {}",
            w.key, latest, t->start_ts));
      }
    }
    commit_ts = ++last_assigned_ts_;
    EncodeTransaction(ticket.bytes, txn, commit_ts, writes);  // Before Apply moves the values.
    // Invisible until visible_ts_ reaches commit_ts, which happens only once it is durable.
    KV_RETURN_IF_ERROR(engine_->Apply(writes, commit_ts));
    ticket.on_durable = [this, commit_ts] { visible_ts_.store(commit_ts); };
    wal_->Push(ticket);  // Under commit_mu_: the log order is the timestamp order.
  }
  Status s = wal_->Await(ticket);
  if (!s.ok()) {
    ++aborts_;
    return s.WithContext(
        fmt::format("commit of transaction {} failed; the store refuses writes "
                    "until reopened",
                    txn));
  }
  ++commits_;
  const Timestamp watermark = snapshot.ReleaseAndGetWatermark();
  for (const Write& w : writes) engine_->Prune(w.key, watermark);
  return Status::Ok();
}

Status Store::Checkpoint() {
  std::lock_guard checkpoint_lock(checkpoint_mu_);
  WalWriter::Ticket rotate;
  rotate.kind = WalWriter::Ticket::Kind::kRotate;
  Timestamp ts = 0;
  {
    std::lock_guard lock(commit_mu_);
    ts = last_assigned_ts_;
    // Pin the snapshot before anything can prune past it: every watermark is <= visible_ts_ <=
    // last_assigned_ts_ = ts from here on.
    std::lock_guard snapshots_lock(snapshots_mu_);
    snapshots_.insert(ts);
    wal_->Push(rotate);
  }
  auto unpin = [&] {
    std::lock_guard snapshots_lock(snapshots_mu_);
    snapshots_.erase(snapshots_.find(ts));
  };
  Status s = wal_->Await(rotate);
  // Every commit up to ts is in the segments before rotate.new_segment, and durable.
  if (s.ok()) s = WriteCheckpoint(fs_, dir_, *engine_, ts, rotate.new_segment);
  unpin();
  KV_RETURN_IF_ERROR(s);
  ++checkpoints_;
  KV_RETURN_IF_ERROR(RemoveCoveredFiles(rotate.new_segment).status());
  engine_->PruneAll(Watermark());
  return Status::Ok();
}

StoreStats Store::stats() const {
  StoreStats s;
  s.visible_ts = visible_ts_.load();
  for (const TxnStripe& stripe : txn_stripes_) {
    std::lock_guard lock(stripe.mu);
    s.active_transactions += stripe.txns.size();
  }
  s.commits = commits_.load();
  s.conflicts = conflicts_.load();
  s.aborts = aborts_.load();
  s.checkpoints = checkpoints_.load();
  s.wal_syncs = wal_->syncs();
  s.wal_segment = wal_->current_segment();
  s.engine = engine_->stats();
  s.error = wal_->error();
  return s;
}

// --- Transaction ---

Transaction::Transaction(Transaction&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)), id_(other.id_) {}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    Abort();
    store_ = std::exchange(other.store_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Transaction::~Transaction() { Abort(); }

Status Transaction::Commit() {
  KV_CHECK(store_ != nullptr, "Commit on an ended transaction");
  return std::exchange(store_, nullptr)->Commit(id_);
}

void Transaction::Abort() {
  if (store_ != nullptr) (void)std::exchange(store_, nullptr)->Abort(id_);
}

}  // namespace kv::phase1
