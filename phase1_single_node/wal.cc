#include "phase1_single_node/wal.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <map>

#include <fmt/format.h>

#include "common/check.h"
#include "common/encoding.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"

namespace kv::phase1 {

// ---------------------------------------------------------------------------------------------
// Record encoding (docs/formats/wal.md)

namespace {

// Each record is framed in place in `dst` (record_log.h), so encoding allocates nothing beyond
// `dst`'s own growth.
template <typename W, typename ValueOf>
void EncodeTransactionRecords(std::string& dst, TxnId txn, Timestamp commit_ts,
                              std::span<const W> writes, ValueOf value_of) {
  auto header = [&](WalRecordType type) {
    const std::size_t start = BeginRecord(dst);
    AppendFixed8(dst, static_cast<std::uint8_t>(type));
    AppendVarint64(dst, txn);
    AppendVarint64(dst, commit_ts);
    return start;
  };
  for (const W& w : writes) {
    const std::optional<std::string_view> value = value_of(w);
    const std::size_t start = header(value ? WalRecordType::kPut : WalRecordType::kDelete);
    AppendLengthPrefixed(dst, w.key);
    if (value) AppendLengthPrefixed(dst, *value);
    FinishRecord(dst, start);
  }
  FinishRecord(dst, header(WalRecordType::kCommit));
}

}  // namespace

void EncodeTransaction(std::string& dst, TxnId txn, Timestamp commit_ts,
                       std::span<const Write> writes) {
  EncodeTransactionRecords(dst, txn, commit_ts, writes,
                           [](const Write& w) -> std::optional<std::string_view> {
                             if (!w.value) return std::nullopt;
                             return std::string_view(*w.value);
                           });
}

void EncodeTransaction(std::string& dst, TxnId txn, Timestamp commit_ts,
                       std::span<const WriteRef> writes) {
  EncodeTransactionRecords(dst, txn, commit_ts, writes, [](const WriteRef& w) { return w.value; });
}

Result<WalRecord> DecodeWalRecord(std::string_view payload) {
  Decoder d(payload);
  WalRecord r{};
  KV_ASSIGN_OR_RETURN(std::uint8_t type, d.ReadFixed8());
  if (type < 1 || type > 3)
    return Status::Corruption(fmt::format("unknown WAL record type {}", type));
  r.type = static_cast<WalRecordType>(type);
  KV_ASSIGN_OR_RETURN(r.txn_id, d.ReadVarint64());
  KV_ASSIGN_OR_RETURN(r.commit_ts, d.ReadVarint64());
  if (r.commit_ts == 0) return Status::Corruption("WAL record with commit timestamp 0");
  if (r.type != WalRecordType::kCommit) {
    KV_ASSIGN_OR_RETURN(r.key, d.ReadLengthPrefixed());
    if (r.key.empty()) return Status::Corruption("WAL record with an empty key");
  }
  if (r.type == WalRecordType::kPut) {
    KV_ASSIGN_OR_RETURN(r.value, d.ReadLengthPrefixed());
  }
  if (!d.empty()) {
    return Status::Corruption(fmt::format("{} trailing bytes after WAL record", d.remaining()));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// WalWriter: group commit

namespace {

// Sleeps while `word.value` holds `expected`; may return early, so callers loop. We call the
// futex directly rather than std::atomic::wait, whose libstdc++ version first spins on
// sched_yield: with dozens of committers on two cores that spinning took a quarter of the CPU
// (journal, 2026-11-21-phase1-group-commit.md).
template <typename Word>
void FutexWait(Word& word, std::uint32_t expected) {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  word.sleepers.fetch_add(1);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word.value), FUTEX_WAIT_PRIVATE, expected,
            nullptr, nullptr, 0);
  word.sleepers.fetch_sub(1);
}

// Bumps `word.value` and wakes up to `count` threads sleeping on it. The wake-up system call is
// skipped when nobody sleeps there, which is always the case for a lone committer. No wake-up is
// lost: a sleeper that registers after our look at `sleepers` registered after our bump too, so
// the kernel finds `value` changed and FUTEX_WAIT returns at once (all four steps are seq_cst).
template <typename Word>
void BumpAndWake(Word& word, int count) {
  word.value.fetch_add(1);
  if (word.sleepers.load() == 0) return;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word.value), FUTEX_WAKE_PRIVATE, count,
            nullptr, nullptr, 0);
}

}  // namespace

WalWriter::WalWriter(FileSystem& fs, std::string dir, SyncPolicy policy, std::uint64_t interval,
                     std::uint64_t reserve_bytes)
    : fs_(fs),
      dir_(std::move(dir)),
      policy_(policy),
      sync_interval_micros_(interval),
      reserve_bytes_(reserve_bytes) {}

Result<std::unique_ptr<WalWriter>> WalWriter::Create(FileSystem& fs, std::string dir,
                                                     std::uint64_t first_segment, SyncPolicy policy,
                                                     std::uint64_t sync_interval_micros,
                                                     std::uint64_t reserve_bytes) {
  std::unique_ptr<WalWriter> w(
      new WalWriter(fs, std::move(dir), policy, sync_interval_micros, reserve_bytes));
  KV_RETURN_IF_ERROR(w->OpenSegment(first_segment));
  w->segment_ = first_segment;
  if (policy == SyncPolicy::kPeriodic)
    w->syncer_ = std::thread([p = w.get()] { p->PeriodicSyncLoop(); });
  return w;
}

WalWriter::~WalWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  // Invariant: no committer is left in the queue; the store waits for them before destroying us.
  KV_CHECK(queue_.empty(), "WalWriter destroyed with commits in flight");
  if (file_ == nullptr) return;
  if (error_.ok()) {
    (void)CloseSegment(segment_);
  } else {
    // A failed write may have left bytes past Size(); recovery, not a cut here, deals with them.
    (void)file_->Close();
  }
}

Status WalWriter::OpenSegment(std::uint64_t number) {
  KV_ASSIGN_OR_RETURN(file_, fs_.NewWritableFile(JoinPath(dir_, WalSegmentName(number))));
  reserved_end_ = 0;
  // The new name must be durable before any commit in it is acknowledged.
  return fs_.SyncDir(dir_);
}

Status WalWriter::DeferredSyncRefused() {
  // Replay could not tell such a segment's unused room from a tail the crash lost.
  return Status::InvalidArgument("a log that reserves room must sync a segment it closes");
}

Status WalWriter::AppendToSegment(std::string_view bytes) {
  const std::uint64_t size = file_->Size();
  if (reserve_bytes_ > 0 && size + bytes.size() > reserved_end_) {
    const std::uint64_t from = std::max(reserved_end_, size);
    const std::uint64_t needed = size + bytes.size() - from;
    const std::uint64_t room = std::max<std::uint64_t>(reserve_bytes_, needed);
    if (file_->Reserve(room).ok()) {
      reserved_end_ = from + room;
    } else if (room > needed && file_->Reserve(needed).ok()) {
      // Nearly full disk: room for these bytes only, so a commit that fits is not refused.
      reserved_end_ = from + needed;
    }
    // Otherwise append without room: the append reports the error if there is no space.
  }
  return file_->Append(bytes);
}

Status WalWriter::CloseSegment(std::uint64_t number) {
  const std::uint64_t size = file_->Size();
  KV_RETURN_IF_ERROR(file_->Close());
  // Best effort, and not synced: if the cut fails or a crash undoes it, replay reads the zeros
  // as unused room. The segment's records are already synced; failing the log for this would
  // stop writes for nothing.
  if (reserved_end_ > size) (void)fs_.Truncate(JoinPath(dir_, WalSegmentName(number)), size);
  return Status::Ok();
}

void WalWriter::PeriodicSyncLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::microseconds(sync_interval_micros_));
    if (stopping_) break;
    lock.unlock();
    (void)Sync();  // A failure is recorded in error_ and fails later commits.
    lock.lock();
  }
}

void WalWriter::Push(Ticket& w) {
  std::lock_guard lock(mu_);
  w.seq = ++pushed_seq_;
  w.group = taken_groups_ + 1;
  w.leads_next = queue_.empty();
  queue_.push_back(&w);
}

Status WalWriter::Await(Ticket& w) {
  Word& word = w.leads_next ? lead_word_ : group_words_[w.group % 2];
  for (;;) {
    const std::uint32_t seen = word.value.load(std::memory_order_acquire);
    const std::uint64_t done = done_seq_.load(std::memory_order_acquire);
    if (done >= w.seq) return w.status;
    if (w.leads_next && done + 1 == w.seq) break;  // The previous leader is finished.
    FutexWait(word, seen);
  }
  LeadGroup(w);
  return w.status;
}

void WalWriter::LeadGroup(Ticket& first) {
  std::unique_lock lock(mu_);
  KV_CHECK(!queue_.empty() && queue_.front() == &first, "group commit queue out of order");
  std::deque<Ticket*> group;
  group.swap(queue_);
  const std::uint64_t group_number = ++taken_groups_;
  std::uint64_t segment = segment_;
  Status s = error_;
  auto older = std::move(unsynced_);  // Rotated segments still owed a sync, oldest first.
  unsynced_.clear();
  lock.unlock();

  // Only the leader touches file_, so no lock is needed while writing and syncing; committers
  // keep queueing behind us meanwhile. The group is written in runs separated by rotations:
  // a rotation closes the current segment (synced, or owed a sync), and what follows goes to
  // the next one.
  std::uint64_t syncs = 0;
  std::string bytes;
  bool sync = policy_ == SyncPolicy::kAlways;
  std::size_t run_begin = 0;
  // Writes tickets [run_begin, run_end) and syncs or flushes them. Before a rotation that syncs
  // the old segment, it is synced even if the run is empty: earlier groups may have only
  // flushed it. Any sync first syncs the older segments still owed one, oldest first.
  auto finish_run = [&](std::size_t run_end, bool before_rotation) {
    if (run_end == run_begin && !before_rotation) return;
    if (s.ok() && !bytes.empty()) s = AppendToSegment(bytes);
    if (s.ok() && sync) {
      for (auto& [number, file] : older) {
        if (s.ok()) s = file->Sync();
        if (s.ok()) s = file->Close();
        if (s.ok()) ++syncs;
      }
      if (s.ok()) older.clear();
      if (s.ok()) s = file_->Sync();
      if (s.ok()) ++syncs;
    } else if (s.ok()) {
      s = file_->Flush();
    }
    for (std::size_t i = run_begin; i < run_end; ++i) group[i]->status = s;
    bytes.clear();
    sync = policy_ == SyncPolicy::kAlways;
    run_begin = run_end;
  };
  for (std::size_t i = 0; i < group.size(); ++i) {
    Ticket* x = group[i];
    if (x->kind != Ticket::Kind::kRotate) {
      bytes.append(x->bytes);
      if (x->kind == Ticket::Kind::kSync || x->sync) sync = true;
      continue;
    }
    if (x->sync_old_segment) sync = true;
    if (!x->sync_old_segment && reserve_bytes_ > 0 && s.ok()) s = DeferredSyncRefused();
    finish_run(i, /*before_rotation=*/true);
    if (s.ok() && x->sync_old_segment) {
      s = CloseSegment(segment);
    } else if (s.ok()) {
      older.emplace_back(segment, std::move(file_));
    }
    if (s.ok()) s = OpenSegment(segment + 1);
    if (s.ok()) x->new_segment = ++segment;
    x->status = s;
    run_begin = i + 1;
  }
  finish_run(group.size(), /*before_rotation=*/false);

  lock.lock();
  // Give back the segments still owed a sync, unless the caller has let them go meanwhile.
  for (auto& entry : older) {
    if (entry.first >= forget_before_) unsynced_.push_back(std::move(entry));
  }
  if (!s.ok() && error_.ok()) error_ = s;
  syncs_ += syncs;
  segment_ = segment;
  for (Ticket* x : group) {
    if (x->status.ok() && x->kind == Ticket::Kind::kCommit) {
      ++commits_;
      if (x->on_durable) x->on_durable();  // In log order: one leader at a time.
    }
  }
  lock.unlock();

  // Publish. From here on the tickets belong to their owners again; only `first`, ours, may
  // still be read. Wake the next leader before our followers, so its fdatasync starts first.
  done_seq_.store(group.back()->seq, std::memory_order_release);
  BumpAndWake(lead_word_, INT_MAX);
  BumpAndWake(group_words_[group_number % 2], INT_MAX);
}

Status WalWriter::Commit(std::string bytes, std::function<void()> on_durable) {
  Ticket t;
  t.bytes = std::move(bytes);
  t.on_durable = std::move(on_durable);
  Push(t);
  return Await(t);
}

Status WalWriter::Sync() {
  Ticket t;
  t.kind = Ticket::Kind::kSync;
  Push(t);
  return Await(t);
}

Result<std::uint64_t> WalWriter::Rotate(OldSegment old) {
  // Refused here without putting the log into its error state; LeadGroup refuses a ticket
  // pushed directly.
  if (old == OldSegment::kSyncLater && reserve_bytes_ > 0) return DeferredSyncRefused();
  Ticket t;
  t.kind = Ticket::Kind::kRotate;
  t.sync_old_segment = old == OldSegment::kSync;
  Push(t);
  KV_RETURN_IF_ERROR(Await(t));
  return t.new_segment;
}

void WalWriter::ForgetBefore(std::uint64_t segment) {
  std::vector<std::unique_ptr<WritableFile>> dropped;  // Closed outside the lock.
  {
    std::lock_guard lock(mu_);
    forget_before_ = std::max(forget_before_, segment);
    std::erase_if(unsynced_, [&](auto& entry) {
      if (entry.first >= segment) return false;
      dropped.push_back(std::move(entry.second));
      return true;
    });
  }
  // Closing flushes nothing we need: the caller has the data elsewhere (an error is moot).
  for (auto& file : dropped) (void)file->Close();
}

Status WalWriter::error() const {
  std::lock_guard lock(mu_);
  return error_;
}
std::uint64_t WalWriter::current_segment() const {
  std::lock_guard lock(mu_);
  return segment_;
}
std::uint64_t WalWriter::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}
std::uint64_t WalWriter::commits_written() const {
  std::lock_guard lock(mu_);
  return commits_;
}

// ---------------------------------------------------------------------------------------------
// Replay

namespace {

// Cuts `path` to `size` and syncs it. The cut must be durable before anything is written after
// it: if a power cut undid it, the torn tail would come back, and with a newer segment behind it
// the next open would read it as corruption in the middle of the log (found by the LSM tree's
// crash test, which cuts the power during the open that follows a torn tail).
Status TruncateDurably(FileSystem& fs, const std::string& path, std::uint64_t size) {
  KV_RETURN_IF_ERROR(fs.Truncate(path, size));
  KV_ASSIGN_OR_RETURN(auto file, fs.NewAppendableFile(path));
  KV_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace

Result<WalReplayReport> ReplayWal(FileSystem& fs, const std::string& dir,
                                  const std::vector<std::uint64_t>& segments, Timestamp after_ts,
                                  bool repair,
                                  const std::function<Status(Timestamp, std::span<Write>)>& apply,
                                  TornSegment torn_segment, bool reserved_tail) {
  WalReplayReport report;
  Timestamp last_ts = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bool last_segment = i + 1 == segments.size();
    const std::string path = JoinPath(dir, WalSegmentName(segments[i]));
    KV_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs, path));
    ++report.segments;
    RecordReader reader(data, path, reserved_tail);
    // Writes of transactions whose commit record has not been seen yet, per transaction.
    std::map<TxnId, std::pair<Timestamp, std::vector<Write>>> pending;
    Status damage;
    std::uint64_t damage_offset = 0;
    bool torn = false;
    while (damage.ok() && !torn) {
      auto outcome = reader.Next();
      if (outcome == RecordReader::Outcome::kEnd) break;
      if (outcome == RecordReader::Outcome::kTornTail) {
        torn = true;
        damage_offset = reader.record_offset();
        break;
      }
      if (outcome == RecordReader::Outcome::kCorrupt) {
        damage = reader.status();
        damage_offset = reader.record_offset();
        break;
      }
      ++report.records;
      auto record = DecodeWalRecord(reader.payload());
      auto bad = [&](std::string_view what) {
        damage = Status::Corruption(
            fmt::format("{}: {} in record at offset {}", path, what, reader.record_offset()));
        damage_offset = reader.record_offset();
      };
      if (!record) {
        bad(record.error().message());
        break;
      }
      if (record->commit_ts <= last_ts) {
        bad(fmt::format("commit timestamp {} not after {}", record->commit_ts, last_ts));
        break;
      }
      auto& [ts, writes] = pending[record->txn_id];
      if (ts != 0 && ts != record->commit_ts) {
        bad("records of one transaction disagree on its commit timestamp");
        break;
      }
      ts = record->commit_ts;
      if (record->type == WalRecordType::kCommit) {
        if (ts > after_ts) {
          KV_RETURN_IF_ERROR(apply(ts, writes));
          ++report.transactions;
        } else {
          ++report.skipped;  // Already in the checkpoint.
        }
        last_ts = ts;
        report.last_commit_ts = ts;
        report.last_txn_id = std::max(report.last_txn_id, record->txn_id);
        pending.erase(record->txn_id);
      } else {
        std::optional<std::string> value;
        if (record->type == WalRecordType::kPut) value.emplace(record->value);
        writes.push_back(Write{std::string(record->key), std::move(value)});
      }
    }
    report.incomplete += pending.size();

    // Zeros where the next record would start, in a log that reserves room ahead: room the
    // writer never filled. In the last segment that is where the log ends; an earlier segment
    // was synced whole before the next one was started (TornSegment::kCorruption's promise), so
    // its zeros are only room it did not need.
    const bool unused_room = torn && reserved_tail && reader.zero_tail();
    if (unused_room && (last_segment || torn_segment == TornSegment::kCorruption)) {
      report.unused_room_bytes += data.size() - damage_offset;
      if (last_segment) KV_RETURN_IF_ERROR(TruncateDurably(fs, path, damage_offset));
      continue;
    }
    if (torn && last_segment) {
      // A crash cut the last record short: normal. Cut it off so new records follow intact ones.
      report.torn_bytes = data.size() - damage_offset;
      report.torn_file = path;
      KV_RETURN_IF_ERROR(TruncateDurably(fs, path, damage_offset));
      continue;
    }
    if (torn && torn_segment == TornSegment::kEndsTheLog) {
      // Cut short by a crash before its deferred sync. The file is left as it is: the caller
      // retires this segment and the later ones without replaying them again.
      report.torn_bytes = data.size() - damage_offset;
      report.torn_file = path;
      for (std::size_t j = i + 1; j < segments.size(); ++j) {
        KV_ASSIGN_OR_RETURN(std::uint64_t size,
                            fs.FileSize(JoinPath(dir, WalSegmentName(segments[j]))));
        ++report.unreplayed_segments;
        report.unreplayed_bytes += size;
      }
      return report;
    }
    if (torn) {
      damage = Status::Corruption(fmt::format(
          "{}: log ends mid-record at offset {} but later segments follow", path, damage_offset));
    }
    if (damage.ok()) continue;
    if (!repair) return damage;
    // Repair: keep the intact prefix, drop the rest of this segment and every later one.
    std::uint64_t discarded = data.size() - damage_offset;
    KV_RETURN_IF_ERROR(TruncateDurably(fs, path, damage_offset));
    for (std::size_t j = i + 1; j < segments.size(); ++j) {
      const std::string later = JoinPath(dir, WalSegmentName(segments[j]));
      KV_ASSIGN_OR_RETURN(std::uint64_t size, fs.FileSize(later));
      discarded += size;
      KV_RETURN_IF_ERROR(fs.RemoveFile(later));
    }
    KV_RETURN_IF_ERROR(fs.SyncDir(dir));
    report.repaired_bytes = discarded;
    report.repair_message =
        fmt::format("repair: {}; discarded {} bytes from offset {} of {} and {} later segment(s)",
                    damage.message(), discarded, damage_offset, path, segments.size() - i - 1);
    return report;
  }
  return report;
}

}  // namespace kv::phase1
