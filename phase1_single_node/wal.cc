#include "phase1_single_node/wal.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "common/check.h"
#include "common/encoding.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"

namespace kv::phase1 {

// ---------------------------------------------------------------------------------------------
// Record encoding (docs/formats/wal.md)

void EncodeTransaction(std::string& dst, TxnId txn, Timestamp commit_ts,
                       std::span<const Write> writes) {
  std::string payload;
  auto header = [&](WalRecordType type) {
    payload.clear();
    AppendFixed8(payload, static_cast<std::uint8_t>(type));
    AppendVarint64(payload, txn);
    AppendVarint64(payload, commit_ts);
  };
  for (const Write& w : writes) {
    header(w.value ? WalRecordType::kPut : WalRecordType::kDelete);
    AppendLengthPrefixed(payload, w.key);
    if (w.value) AppendLengthPrefixed(payload, *w.value);
    AppendRecord(dst, payload);
  }
  header(WalRecordType::kCommit);
  AppendRecord(dst, payload);
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

WalWriter::WalWriter(FileSystem& fs, std::string dir, SyncPolicy policy, std::uint64_t interval)
    : fs_(fs), dir_(std::move(dir)), policy_(policy), sync_interval_micros_(interval) {}

Result<std::unique_ptr<WalWriter>> WalWriter::Create(FileSystem& fs, std::string dir,
                                                     std::uint64_t first_segment, SyncPolicy policy,
                                                     std::uint64_t sync_interval_micros) {
  std::unique_ptr<WalWriter> w(new WalWriter(fs, std::move(dir), policy, sync_interval_micros));
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
  if (file_ != nullptr) (void)file_->Close();
}

Status WalWriter::OpenSegment(std::uint64_t number) {
  KV_ASSIGN_OR_RETURN(file_, fs_.NewWritableFile(JoinPath(dir_, WalSegmentName(number))));
  // The new name must be durable before any commit in it is acknowledged.
  return fs_.SyncDir(dir_);
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
  queue_.push_back(&w);
}

Status WalWriter::Await(Ticket& w) {
  std::unique_lock lock(mu_);
  w.cv.wait(lock, [&] { return w.done || queue_.front() == &w; });
  if (w.done) return w.status;

  // This thread leads: it takes the queued commits (up to the first rotation) as one group.
  std::vector<Ticket*> group;
  std::string bytes;
  bool sync = policy_ == SyncPolicy::kAlways;
  for (Ticket* x : queue_) {
    if (x->kind == Ticket::Kind::kRotate) {
      if (group.empty()) group.push_back(x);
      break;
    }
    group.push_back(x);
    bytes.append(x->bytes);
    if (x->kind == Ticket::Kind::kSync) sync = true;
  }
  std::uint64_t segment = segment_;
  Status s = error_;
  lock.unlock();

  // Only the leader touches file_, so no lock is needed while writing and syncing.
  bool synced = false;
  if (s.ok() && group.front()->kind == Ticket::Kind::kRotate) {
    s = file_->Sync();
    synced = s.ok();
    if (s.ok()) s = file_->Close();
    if (s.ok()) s = OpenSegment(segment + 1);
  } else if (s.ok()) {
    if (!bytes.empty()) s = file_->Append(bytes);
    if (s.ok()) {
      s = sync ? file_->Sync() : file_->Flush();
      synced = sync && s.ok();
    }
  }

  lock.lock();
  if (!s.ok() && error_.ok()) error_ = s;
  if (synced) ++syncs_;
  for (Ticket* x : group) {
    KV_CHECK(queue_.front() == x, "group commit queue out of order");
    queue_.pop_front();
    x->status = s;
    if (s.ok() && x->kind == Ticket::Kind::kCommit) {
      ++commits_;
      if (x->on_durable) x->on_durable();
    }
    if (s.ok() && x->kind == Ticket::Kind::kRotate) {
      segment_ = segment + 1;
      x->new_segment = segment_;
    }
    x->done = true;
    if (x != &w) x->cv.notify_one();
  }
  // Hand the lead to the next ticket, if any.
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  return w.status;
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

Result<std::uint64_t> WalWriter::Rotate() {
  Ticket t;
  t.kind = Ticket::Kind::kRotate;
  Push(t);
  KV_RETURN_IF_ERROR(Await(t));
  return t.new_segment;
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

Result<WalReplayReport> ReplayWal(FileSystem& fs, const std::string& dir,
                                  const std::vector<std::uint64_t>& segments, Timestamp after_ts,
                                  bool repair,
                                  const std::function<Status(Timestamp, std::span<Write>)>& apply) {
  WalReplayReport report;
  Timestamp last_ts = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const bool last_segment = i + 1 == segments.size();
    const std::string path = JoinPath(dir, WalSegmentName(segments[i]));
    KV_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs, path));
    ++report.segments;
    RecordReader reader(data, path);
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

    if (torn && last_segment) {
      // A crash cut the last record short: normal. Cut it off so new records follow intact ones.
      report.torn_bytes = data.size() - damage_offset;
      report.torn_file = path;
      KV_RETURN_IF_ERROR(fs.Truncate(path, damage_offset));
      continue;
    }
    if (torn) {
      damage = Status::Corruption(fmt::format(
          "{}: log ends mid-record at offset {} but later segments follow", path, damage_offset));
    }
    if (damage.ok()) continue;
    if (!repair) return damage;
    // Repair: keep the intact prefix, drop the rest of this segment and every later one.
    std::uint64_t discarded = data.size() - damage_offset;
    KV_RETURN_IF_ERROR(fs.Truncate(path, damage_offset));
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
