// The write-ahead log: what makes a committed transaction durable and atomic.
//
// A committing transaction writes one WAL record per put or delete and then a commit record, all
// carrying its transaction id and commit timestamp, framed and checksummed by record_log.h. On
// recovery a transaction counts only if its commit record is there, so a crash in the middle of
// writing one leaves no trace of it. Byte layout: docs/formats/wal.md.
//
// The log is a sequence of segment files wal-NNNNNN.log in the store's directory. A checkpoint
// starts a new segment; segments older than the newest durable checkpoint are deleted.
//
// Group commit (WalWriter::Commit): committers queue up; the first in the queue becomes the
// leader, writes the bytes of everyone queued behind it with one Append and makes them durable
// with one Sync, then wakes them all. Concurrent committers thus share one fdatasync. While a
// leader syncs, the next group queues up behind it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/status.h"
#include "phase1_single_node/versioned_engine.h"

namespace kv::phase1 {

using TxnId = std::uint64_t;

enum class WalRecordType : std::uint8_t { kPut = 1, kDelete = 2, kCommit = 3 };

// One decoded WAL record. For kPut key and value are set; for kDelete the key; for kCommit
// neither. `key`/`value` point into the buffer that was decoded.
struct WalRecord {
  WalRecordType type;
  TxnId txn_id;
  Timestamp commit_ts;
  std::string_view key;
  std::string_view value;
};

// Appends the framed records of one transaction (its writes, then its commit record) to `dst`.
void EncodeTransaction(std::string& dst, TxnId txn, Timestamp commit_ts,
                       std::span<const Write> writes);
// One write by reference: a value, or a delete when `value` is std::nullopt.
struct WriteRef {
  std::string_view key;
  std::optional<std::string_view> value;
};
// The same from references, for a caller that holds its writes elsewhere (the LSM tree's
// batches): no copy of any key or value on the way into the log.
void EncodeTransaction(std::string& dst, TxnId txn, Timestamp commit_ts,
                       std::span<const WriteRef> writes);
// Decodes the payload of one framed record. kCorruption for an unknown type, a truncated field
// or trailing bytes; never reads outside `payload`.
Result<WalRecord> DecodeWalRecord(std::string_view payload);

// When a commit counts as done.
enum class SyncPolicy {
  kAlways,    // After fdatasync of its record (the default): survives a power cut.
  kPeriodic,  // After the write; a background thread syncs every sync_interval.
  kNone,      // After the write; never synced by the log (the OS writes it back eventually).
};

// Appends to the current segment with group commit. Thread-safe.
class WalWriter {
 public:
  // Creates segment `first_segment` in `dir` (making its name durable) and starts the periodic
  // syncer if the policy asks for one.
  // `reserve_bytes` > 0: the log reserves room ahead in its segments, that many zero bytes at a
  // time (WritableFile::Reserve), and writes its records over them. Most syncs then leave the
  // file's size alone, so an fdatasync has only the data to write, not the inode as well; the
  // cost is writing the zeros first. A segment's unused room is cut off when the log closes it
  // cleanly; after a crash it is zeros after the last record (replay with `reserved_tail`).
  // Such a log cannot rotate with OldSegment::kSyncLater.
  static Result<std::unique_ptr<WalWriter>> Create(FileSystem& fs, std::string dir,
                                                   std::uint64_t first_segment, SyncPolicy policy,
                                                   std::uint64_t sync_interval_micros,
                                                   std::uint64_t reserve_bytes = 0);
  ~WalWriter();

  // A request waiting in the group-commit queue. Push() it, then Await() it.
  struct Ticket {
    enum class Kind { kCommit, kSync, kRotate };
    Kind kind = Kind::kCommit;
    // For kRotate: sync the old segment now (true), or leave its sync to the next sync of the
    // log (see Rotate).
    bool sync_old_segment = true;
    std::string bytes;
    std::function<void()> on_durable;
    // Sync this ticket's bytes before it is done, whatever the policy (a caller that wants this
    // one write durable under SyncPolicy::kNone, as the LSM tree's sync writes do).
    bool sync = false;
    // Filled in by the log; the owner reads them only after Await() returns.
    Status status;
    std::uint64_t new_segment = 0;
    // Set by Push (see "How waiting works" below).
    std::uint64_t seq = 0;    // The ticket's place in log order: 1, 2, 3, ...
    std::uint64_t group = 0;  // The number of the group that will write it.
    bool leads_next = false;  // Pushed into an empty queue: it will lead that group.
  };

  // Queues `ticket`. Tickets are written in the order they were pushed, so a caller that pushes
  // under its own lock fixes the log order without holding that lock while waiting.
  // `on_durable` runs under the log's lock, in log order, once the ticket's bytes are as durable
  // as the policy says: fdatasync'ed (kAlways) or written (kPeriodic, kNone).
  // REQUIRES: `ticket` stays alive until Await() returns.
  void Push(Ticket& ticket);
  // Waits until `ticket` has been handled, leading the next group if it reaches the front.
  // On failure the log enters its error state: this and every later ticket fail with the first
  // error (kIOError or kNoSpace) and their `on_durable` does not run.
  Status Await(Ticket& ticket);

  // Push + Await of one commit.
  Status Commit(std::string bytes, std::function<void()> on_durable);
  // What Rotate does with the segment it closes.
  enum class OldSegment {
    kSync,  // fdatasync it now.
    // Leave it unsynced for now. The next sync of the log (a ticket with `sync`, Sync(), or any
    // group under SyncPolicy::kAlways) syncs it first, before the newer segment: a write is
    // never durable while an older one is not. ForgetBefore() drops a segment the caller no
    // longer needs (the LSM tree, once a table holds its writes), so it is never synced at all;
    // the OS may then never write it to disk either. Not for a log that reserves room
    // (kInvalidArgument).
    kSyncLater,
  };
  // Syncs (or not, see OldSegment) the current segment, then starts segment `current + 1` and
  // makes its name durable. Returns the new segment's number. Tickets pushed before it go to
  // the old segment.
  Result<std::uint64_t> Rotate(OldSegment old = OldSegment::kSync);
  // Forces a sync of everything written so far.
  Status Sync();
  // The caller no longer needs segments numbered below `segment`: those still waiting for a
  // sync (OldSegment::kSyncLater) are closed without one.
  void ForgetBefore(std::uint64_t segment);

  // The first error the log hit, or OK.
  Status error() const;
  std::uint64_t current_segment() const;
  std::uint64_t syncs() const;  // fdatasync calls made, for the group-commit benchmark.
  std::uint64_t commits_written() const;

 private:
  WalWriter(FileSystem& fs, std::string dir, SyncPolicy policy, std::uint64_t interval,
            std::uint64_t reserve_bytes);
  // All three REQUIRE: the caller is the leader (owns the file).
  Status OpenSegment(std::uint64_t number);
  // Appends to the current segment, reserving room first if the log reserves and needs more.
  Status AppendToSegment(std::string_view bytes);
  // Closes the current segment, numbered `number`, and cuts off its unused room.
  Status CloseSegment(std::uint64_t number);
  // The error for a rotation with OldSegment::kSyncLater in a log that reserves room.
  static Status DeferredSyncRefused();
  void PeriodicSyncLoop();

  FileSystem& fs_;
  const std::string dir_;
  const SyncPolicy policy_;
  const std::uint64_t sync_interval_micros_;
  const std::uint64_t reserve_bytes_;

  // Leads a group: `first` is the front of the queue. Takes the whole queue, writes it and
  // syncs it, fills in the tickets' results, then publishes them as done and wakes their owners.
  void LeadGroup(Ticket& first);

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;     // Wakes the periodic syncer at shutdown.
  std::deque<Ticket*> queue_;           // GUARDED_BY(mu_); pushed, not yet taken by a leader.
  std::uint64_t pushed_seq_ = 0;        // GUARDED_BY(mu_); seq of the newest ticket.
  std::uint64_t taken_groups_ = 0;      // GUARDED_BY(mu_); groups taken by leaders so far.
  std::unique_ptr<WritableFile> file_;  // Only the leader touches it (outside mu_).
  std::uint64_t reserved_end_ = 0;      // Leader only: where file_'s reserved room ends.
  // Rotated segments not synced yet, oldest first (OldSegment::kSyncLater). The leader takes
  // them while it writes a group and gives back those it did not sync.
  std::vector<std::pair<std::uint64_t, std::unique_ptr<WritableFile>>>
      unsynced_;                     // GUARDED_BY(mu_)
  std::uint64_t forget_before_ = 0;  // GUARDED_BY(mu_)
  std::uint64_t segment_ = 0;        // GUARDED_BY(mu_)
  Status error_;                     // GUARDED_BY(mu_)
  std::uint64_t syncs_ = 0;          // GUARDED_BY(mu_)
  std::uint64_t commits_ = 0;        // GUARDED_BY(mu_)
  bool stopping_ = false;            // GUARDED_BY(mu_)
  std::thread syncer_;

  // How waiting works. The owners of tickets sleep without the log's mutex, on futex words that
  // belong to the writer (so the leader never touches a ticket whose owner may have returned):
  //  * Tickets are done in seq order, so one number says which are: every ticket with
  //    seq <= done_seq_ is done.
  //  * A leader takes the whole queue, so a ticket pushed while group g is the newest one taken
  //    will be written by group g + 1. Its owner sleeps on group_words_[(g + 1) % 2], and the
  //    leader of g + 1 wakes all of them with one call. Two words suffice: while group g is
  //    being written, only groups g and g + 1 have waiters.
  //  * A ticket pushed into an empty queue leads the next group. Its owner sleeps on lead_word_
  //    until done_seq_ reaches seq - 1, i.e. the previous leader is finished; that leader wakes
  //    it before it wakes its own group, so the next fdatasync starts as early as it can.
  // A word is bumped after done_seq_ advances, and an owner reads the word before done_seq_, so
  // it cannot sleep through its wake-up (journal, 2026-11-21-phase1-group-commit.md).
  struct alignas(64) Word {
    std::atomic<std::uint32_t> value{0};
    std::atomic<std::uint32_t> sleepers{0};  // Threads in (or entering) FUTEX_WAIT on value.
  };
  alignas(64) std::atomic<std::uint64_t> done_seq_{0};
  Word lead_word_;
  Word group_words_[2];
};

// What replaying the log found.
struct WalReplayReport {
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t transactions = 0;  // Committed transactions applied.
  std::uint64_t skipped = 0;       // Committed transactions already in the checkpoint.
  std::uint64_t incomplete = 0;    // Transactions without a commit record (discarded).
  std::uint64_t torn_bytes = 0;    // Bytes cut off a torn tail.
  std::string torn_file;           // The segment whose tail was cut, if any.
  // Zeros after the last record: room reserved ahead and never filled (see WalWriter::Create).
  // Cut off the last segment; left in earlier ones, where a writer that closed them cleanly
  // already cut it.
  std::uint64_t unused_room_bytes = 0;
  // With TornSegment::kEndsTheLog: later segments that were not replayed, and their bytes.
  std::uint64_t unreplayed_segments = 0;
  std::uint64_t unreplayed_bytes = 0;
  std::uint64_t repaired_bytes = 0;  // Bytes discarded by repair after corruption.
  std::string repair_message;
  Timestamp last_commit_ts = 0;
  TxnId last_txn_id = 0;
};

// What a torn tail (a record cut short at the end of a file) means in a segment that is not the
// last one.
enum class TornSegment {
  // Damage: segments are synced before the next one is started (WalWriter::OldSegment::kSync),
  // so only the last one can be cut short by a crash.
  kCorruption,
  // The end of the log: the writer rotated without syncing (OldSegment::kSyncLater), and a crash
  // lost that segment's unsynced tail. Nothing after it was durable (a sync always syncs the
  // older segments first), so the later segments are not replayed; the report counts them, and
  // the caller must never replay them (the LSM tree retires them in its manifest).
  kEndsTheLog,
};

// Replays segments `segments` (numbers, ascending) of `dir` in order, calling `apply` for every
// committed transaction with commit timestamp > `after_ts`. A torn tail of the last segment is
// truncated and reported; in an earlier one, see TornSegment. Any other damage is kCorruption
// naming the file and offset, unless `repair` is set: then the log is truncated at the damage,
// everything after it is discarded, and the report says what was lost.
// `reserved_tail`: the writer reserved room ahead (WalWriter::Create's `reserve_bytes`), so a
// segment may end in zeros, and a record cut short there fails its checksum instead of running
// past the end of the file (RecordReader).
Result<WalReplayReport> ReplayWal(FileSystem& fs, const std::string& dir,
                                  const std::vector<std::uint64_t>& segments, Timestamp after_ts,
                                  bool repair,
                                  const std::function<Status(Timestamp, std::span<Write>)>& apply,
                                  TornSegment torn_segment = TornSegment::kCorruption,
                                  bool reserved_tail = false);

}  // namespace kv::phase1
