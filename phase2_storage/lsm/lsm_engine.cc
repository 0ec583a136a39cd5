#include "phase2_storage/lsm/lsm_engine.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/check.h"
#include "phase1_single_node/file_names.h"
#include "phase2_storage/lsm/db_iterator.h"
#include "phase2_storage/lsm/merging_iterator.h"

namespace kv::storage::lsm {

// A registered read point; unregistered when the user destroys it.
class LsmEngine::SnapshotImpl final : public Snapshot {
 public:
  SnapshotImpl(const LsmEngine& engine, SequenceNumber sequence)
      : engine_(engine), sequence_(sequence) {}
  ~SnapshotImpl() override {
    std::lock_guard lock(engine_.snapshots_mu_);
    engine_.snapshots_.erase(engine_.snapshots_.find(sequence_));
  }
  SequenceNumber sequence() const { return sequence_; }

 private:
  const LsmEngine& engine_;
  const SequenceNumber sequence_;
};

// One compaction: the tables of `level` (and of `out_level`, if that is another level) that it
// merges into `out_level`, or the one table it moves there.
struct LsmEngine::Compaction {
  int level = 0;
  int out_level = 1;      // level + 1 (leveled), or 0 (size-tiered: runs merge in place).
  Version::Files inputs;  // From `level`.
  Version::Files below;   // From `out_level` when it differs from `level`, overlapping `inputs`.
  std::shared_ptr<const Version> version;
  bool IsTrivialMove() const { return out_level != level && inputs.size() == 1 && below.empty(); }
  bool Contains(std::uint64_t number) const {
    auto has = [&](const Version::Files& files) {
      return std::ranges::any_of(files, [&](const auto& f) { return f->number == number; });
    };
    return has(inputs) || has(below);
  }
};

namespace {

std::string_view UserKeyOf(const std::shared_ptr<const FileMeta>& f, bool largest) {
  return ExtractUserKey(largest ? f->largest : f->smallest);
}

// The user-key range covered by `files`.
std::pair<std::string, std::string> UserRange(const Version::Files& files) {
  std::string lo(UserKeyOf(files.front(), false));
  std::string hi(UserKeyOf(files.front(), true));
  for (const auto& f : files) {
    if (CompareUserKeys(UserKeyOf(f, false), lo) < 0) lo = UserKeyOf(f, false);
    if (CompareUserKeys(UserKeyOf(f, true), hi) > 0) hi = UserKeyOf(f, true);
  }
  return {lo, hi};
}

std::uint64_t TotalBytes(const Version::Files& files) {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f->size;
  return n;
}

}  // namespace

LsmEngine::LsmEngine(FileSystem& fs, std::string dir, LsmOptions options)
    : fs_(fs),
      dir_(std::move(dir)),
      options_(std::move(options)),
      block_cache_(options_.block_cache_bytes),
      table_cache_(fs_, dir_, &block_cache_, &blocks_read_),
      versions_(fs_, dir_) {}

Result<std::unique_ptr<LsmEngine>> LsmEngine::Open(FileSystem& fs, std::string dir,
                                                   LsmOptions options) {
  std::unique_ptr<LsmEngine> engine(new LsmEngine(fs, std::move(dir), std::move(options)));
  KV_RETURN_IF_ERROR(engine->Recover());
  if (engine->options_.background_work) {
    engine->background_ = std::thread([e = engine.get()] { e->BackgroundLoop(); });
  }
  return engine;
}

LsmEngine::~LsmEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  background_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

// ---------------------------------------------------------------------------------------------
// Recovery

Status LsmEngine::Recover() {
  if (options_.create_if_missing) KV_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
  KV_ASSIGN_OR_RETURN(lock_file_, fs_.LockFile(JoinPath(dir_, "LOCK")));
  KV_RETURN_IF_ERROR(versions_.Recover(options_.create_if_missing));
  last_sequence_ = versions_.last_sequence();
  mem_ = std::make_shared<MemTable>(++memtable_seed_);

  std::uint64_t last_segment = 0;
  VersionEdit edit;
  KV_RETURN_IF_ERROR(ReplayLogs(last_segment));
  // What the log held is written out as a level-0 table, so the new segment starts from a
  // clean slate and the old ones can go.
  if (!mem_->empty()) {
    FileMeta meta;
    KV_RETURN_IF_ERROR(WriteLevel0Table(*mem_, meta));
    edit.new_files.emplace_back(0, meta);
    mem_ = std::make_shared<MemTable>(++memtable_seed_);
  }
  // Retire the replayed segments in the manifest *before* the new segment exists. The other
  // order has a hole: a power cut between creating the new segment and logging the edit could
  // drop the unsynced tail of a replayed segment, which then reads as torn in the middle of the
  // log (a later segment follows it) and the tree refuses to open (found by lsm_crash_test).
  const std::uint64_t segment = std::max(last_segment, versions_.log_number()) + 1;
  edit.log_number = segment;
  versions_.SetLastSequence(last_sequence_);
  Status s = versions_.LogAndApply(edit);
  {
    std::lock_guard lock(mu_);
    for (const auto& [level, f] : edit.new_files) pending_outputs_.erase(f.number);
  }
  KV_RETURN_IF_ERROR(s);
  KV_ASSIGN_OR_RETURN(wal_,
                      phase1::WalWriter::Create(fs_, dir_, segment, phase1::SyncPolicy::kNone, 0));
  visible_sequence_.store(last_sequence_);
  DeleteObsoleteFiles();
  return Status::Ok();
}

Status LsmEngine::ReplayLogs(std::uint64_t& last_segment) {
  KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
  std::vector<std::uint64_t> segments;
  for (const std::string& name : names) {
    auto n = phase1::ParseWalSegmentName(name);
    if (n && *n >= versions_.log_number()) segments.push_back(*n);
  }
  std::sort(segments.begin(), segments.end());
  if (segments.empty()) return Status::Ok();
  last_segment = segments.back();
  auto apply = [&](phase1::Timestamp last, std::span<phase1::Write> writes) -> Status {
    // A batch of n writes took sequences last - n + 1 .. last, in order.
    SequenceNumber seq = last - writes.size() + 1;
    for (const phase1::Write& w : writes) {
      if (w.value) {
        mem_->Add(seq++, EntryKind::kValue, w.key, *w.value);
      } else {
        mem_->Add(seq++, EntryKind::kDelete, w.key, {});
      }
    }
    last_sequence_ = std::max(last_sequence_, last);
    return Status::Ok();
  };
  KV_ASSIGN_OR_RETURN(phase1::WalReplayReport report,
                      phase1::ReplayWal(fs_, dir_, segments, 0, /*repair=*/false, apply,
                                        phase1::TornSegment::kEndsTheLog));
  if (report.torn_bytes > 0) {
    recovery_note_ = fmt::format("the log ends in a torn tail of {} bytes in {}", report.torn_bytes,
                                 report.torn_file);
  }
  if (report.unreplayed_segments > 0) {
    // Possible because rotation leaves the old segment's sync for later: a crash lost part of
    // it while the OS had written some of the next one. None of that was acknowledged durable.
    recovery_note_ += fmt::format(
        "; {} later segment(s) ({} bytes) written after it but never "
        "synced were not replayed",
        report.unreplayed_segments, report.unreplayed_bytes);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Writes

Status LsmEngine::Put(const WriteOptions& options, std::string_view key, std::string_view value) {
  const phase1::WriteRef write{key, value};
  return WriteRefs(options, std::span(&write, 1));
}

Status LsmEngine::Delete(const WriteOptions& options, std::string_view key) {
  const phase1::WriteRef write{key, std::nullopt};
  return WriteRefs(options, std::span(&write, 1));
}

Status LsmEngine::Write(const WriteOptions& options, const WriteBatch& batch) {
  std::vector<phase1::WriteRef> writes;
  writes.reserve(batch.size());
  for (const WriteBatch::Entry& e : batch.entries()) {
    writes.push_back({e.key, e.op == WriteBatch::Op::kPut ? std::optional<std::string_view>(e.value)
                                                          : std::nullopt});
  }
  return WriteRefs(options, writes);
}

// Every write path ends here, with the keys and values still where the caller keeps them: they
// are copied once into the log's buffer and once into the memtable, and nowhere else (the
// profile showed allocations and copies as a tenth of a put's time before).
Status LsmEngine::WriteRefs(const WriteOptions& options, std::span<const phase1::WriteRef> writes) {
  for (const phase1::WriteRef& w : writes) {
    KV_RETURN_IF_ERROR(phase1::ValidateKey(options_.limits, w.key));
    if (w.value) KV_RETURN_IF_ERROR(phase1::ValidateValue(options_.limits, *w.value));
  }
  if (writes.empty()) return Status::Ok();

  phase1::WalWriter::Ticket ticket;
  ticket.sync = options.sync;
  {
    std::unique_lock lock(mu_);
    KV_RETURN_IF_ERROR(background_error_);
    KV_RETURN_IF_ERROR(MakeRoomForWrite(lock));
    const SequenceNumber first = last_sequence_ + 1;
    const SequenceNumber last = last_sequence_ + writes.size();
    phase1::EncodeTransaction(ticket.bytes, last, last, writes);
    // In the memtable now, but invisible until visible_sequence_ reaches `last`, which happens
    // once the log has the batch (in log order: on_durable runs under the log's lock).
    SequenceNumber seq = first;
    for (const phase1::WriteRef& w : writes) {
      mem_->Add(seq++, w.value ? EntryKind::kValue : EntryKind::kDelete, w.key,
                w.value.value_or(std::string_view()));
    }
    last_sequence_ = last;
    ticket.on_durable = [this, last] { visible_sequence_.store(last); };
    wal_->Push(ticket);  // Under mu_: log order is sequence order.
  }
  Status s = wal_->Await(ticket);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    if (background_error_.ok()) background_error_ = s;
    return s.WithContext(
        "write to the LSM tree's log failed; the tree refuses writes until "
        "reopened");
  }
  return Status::Ok();
}

Status LsmEngine::MakeRoomForWrite(std::unique_lock<std::mutex>& lock) {
  bool counted = false;
  auto stall = [&] {
    if (!counted) ++stats_.stalls;
    counted = true;
    background_cv_.notify_one();
    done_cv_.wait(lock);
  };
  for (;;) {
    KV_RETURN_IF_ERROR(background_error_);
    const std::size_t l0 = versions_.current()->files(0).size();
    const std::size_t l0_stop =
        options_.compaction_style == LsmOptions::CompactionStyle::kSizeTiered
            ? 2 * static_cast<std::size_t>(options_.tiered_max_runs)
            : static_cast<std::size_t>(options_.level0_stop_writes_trigger);
    if (options_.background_work && l0 >= l0_stop) {
      stall();
      continue;
    }
    // (An empty memtable always has room: its arena's first block may already exceed a tiny
    // write buffer, and switching it would only make another empty one.)
    if (mem_->empty() || mem_->MemoryUsage() < options_.write_buffer_size) return Status::Ok();
    if (imm_ != nullptr) {
      if (!options_.background_work) {
        KV_RETURN_IF_ERROR(FlushInline(lock));
        continue;
      }
      stall();
      continue;
    }
    KV_RETURN_IF_ERROR(SwitchMemtable());
    background_cv_.notify_one();
  }
}

Status LsmEngine::SwitchMemtable() {
  // The rotation waits for every earlier write, so each write in imm_ is in the log (or failed)
  // by the time a flush reads it. The old segment is not synced: its table will be, and once the
  // table is in the manifest the segment is deleted, usually before the OS has written it back
  // at all (that is a third of what a fill writes to disk otherwise). A sync write or Sync()
  // before then syncs it first (WalWriter::OldSegment).
  auto segment = wal_->Rotate(phase1::WalWriter::OldSegment::kSyncLater);
  if (!segment) {
    background_error_ = segment.error();
    return segment.error();
  }
  imm_ = std::move(mem_);
  has_imm_.store(true);
  imm_log_end_ = *segment;
  mem_ = std::make_shared<MemTable>(++memtable_seed_);
  return Status::Ok();
}

Status LsmEngine::Sync() { return wal_->Sync(); }

Status LsmEngine::Flush() {
  std::unique_lock lock(mu_);
  KV_RETURN_IF_ERROR(background_error_);
  // Wait for an earlier immutable memtable, then make the active one immutable.
  while (imm_ != nullptr) {
    if (!options_.background_work) {
      KV_RETURN_IF_ERROR(FlushInline(lock));
      continue;
    }
    background_cv_.notify_one();
    done_cv_.wait(lock);
    KV_RETURN_IF_ERROR(background_error_);
  }
  if (mem_->empty()) return Status::Ok();
  KV_RETURN_IF_ERROR(SwitchMemtable());
  if (!options_.background_work) {
    while (imm_ != nullptr) {
      KV_RETURN_IF_ERROR(FlushInline(lock));
      KV_RETURN_IF_ERROR(background_error_);
    }
    return Status::Ok();
  }
  background_cv_.notify_one();
  done_cv_.wait(lock, [&] { return imm_ == nullptr || !background_error_.ok(); });
  return background_error_;
}

// ---------------------------------------------------------------------------------------------
// Flush

Status LsmEngine::WriteLevel0Table(const MemTable& mem, FileMeta& meta) {
  meta = FileMeta{};
  meta.number = versions_.NewFileNumber();
  const std::string path = JoinPath(dir_, TableFileName(meta.number));
  {
    std::lock_guard lock(mu_);
    pending_outputs_.insert(meta.number);
  }
  auto finish = [&](Status s) {
    std::lock_guard lock(mu_);
    pending_outputs_.erase(meta.number);
    return s;
  };
  auto file = fs_.NewWritableFile(path);
  if (!file) return finish(file.error());
  TableBuilder builder(options_.table, **file, path);
  auto it = mem.NewIterator();
  Status s;
  for (it->SeekToFirst(); it->Valid() && s.ok(); it->Next())
    s = builder.Add(it->key(), it->value());
  if (s.ok()) s = builder.Finish();
  // Synced, and its name synced, before the manifest may name it.
  if (s.ok()) s = (*file)->Sync();
  if (s.ok()) s = (*file)->Close();
  if (s.ok()) s = fs_.SyncDir(dir_);
  if (!s.ok()) return finish(s);
  meta.size = builder.FileSize();
  meta.entries = builder.entries();
  meta.smallest = std::string(builder.smallest());
  meta.largest = std::string(builder.largest());
  // The number stays pending until the caller's edit is logged (DeleteObsoleteFiles must not
  // take the table for garbage meanwhile); the caller erases it.
  return Status::Ok();
}

Status LsmEngine::FlushInline(std::unique_lock<std::mutex>& lock) {
  // Without a background thread the caller flushes. FlushImmutable releases the lock while it
  // writes, so another writer could arrive here meanwhile: it waits instead of flushing the
  // same memtable twice (flushes and compactions must never overlap: LogAndApply needs that).
  if (background_busy_) {
    done_cv_.wait(lock, [&] { return !background_busy_; });
    return Status::Ok();  // The caller re-checks the state.
  }
  if (imm_ == nullptr) return Status::Ok();
  background_busy_ = true;
  Status s = FlushImmutable(lock);
  background_busy_ = false;
  done_cv_.notify_all();
  return s;
}

Status LsmEngine::FlushImmutable(std::unique_lock<std::mutex>& lock, bool level0_only) {
  KV_CHECK(imm_ != nullptr, "FlushImmutable without an immutable memtable");
  std::shared_ptr<MemTable> imm = imm_;
  const std::uint64_t log_end = imm_log_end_;
  const SequenceNumber last = last_sequence_;
  lock.unlock();
  FileMeta meta;
  int flush_level = 0;
  Status s = WriteLevel0Table(*imm, meta);
  if (s.ok()) {
    VersionEdit edit;
    if (meta.entries > 0) {
      flush_level = level0_only ? 0 : PickLevelForFlush(meta);
      edit.new_files.emplace_back(flush_level, meta);
    }
    edit.log_number = log_end;  // Segments before it are all in tables now.
    edit.last_sequence = last;
    s = versions_.LogAndApply(std::move(edit));
  }
  lock.lock();
  pending_outputs_.erase(meta.number);
  if (!s.ok()) {
    if (background_error_.ok()) background_error_ = s;
    done_cv_.notify_all();
    return s;
  }
  imm_.reset();
  has_imm_.store(false);
  wal_->ForgetBefore(log_end);  // The table has its writes: no need to sync its segments.
  ++stats_.flushes;
  stats_.bytes_flushed += meta.size;
  stats_.bytes_written_to_level[static_cast<std::size_t>(flush_level)] += meta.size;
  done_cv_.notify_all();
  lock.unlock();
  DeleteObsoleteFiles();
  lock.lock();
  return Status::Ok();
}

// A flushed table whose key range overlaps nothing in levels 0..n+1 can go straight to level n+1
// (up to level 2): it is newer than everything below it, and no table at or above its level
// holds any of its keys, so no read can find an older version first. Sequential writes then skip
// rewriting each table on its way down (LevelDB does the same). Level 2 at most, and only when
// the table would not overlap too much of the level below, so a later compaction of it stays
// small.
int LsmEngine::PickLevelForFlush(const FileMeta& meta) const {
  if (options_.compaction_style == LsmOptions::CompactionStyle::kSizeTiered) return 0;
  constexpr int kMaxFlushLevel = 2;
  const auto version = versions_.current();
  const std::string_view lo = ExtractUserKey(meta.smallest);
  const std::string_view hi = ExtractUserKey(meta.largest);
  int level = 0;
  if (!version->Overlapping(0, lo, hi).empty()) return 0;
  while (level < kMaxFlushLevel) {
    if (!version->Overlapping(level + 1, lo, hi).empty()) break;
    if (level + 2 < kNumLevels &&
        TotalBytes(version->Overlapping(level + 2, lo, hi)) > 10 * options_.max_file_size) {
      break;
    }
    ++level;
  }
  return level;
}

// ---------------------------------------------------------------------------------------------
// Compaction

std::unique_ptr<LsmEngine::Compaction> LsmEngine::PickCompaction() const {
  if (options_.compaction_style == LsmOptions::CompactionStyle::kSizeTiered) {
    return PickTieredCompaction();
  }
  auto version = versions_.current();
  int best_level = -1;
  double best_score = 1.0;
  const double l0_score = static_cast<double>(version->files(0).size()) /
                          static_cast<double>(options_.level0_compaction_trigger);
  if (l0_score >= best_score) {
    best_score = l0_score;
    best_level = 0;
  }
  double limit = static_cast<double>(options_.LevelBaseBytes());
  for (int level = 1; level < kNumLevels - 1; ++level) {
    const double score = static_cast<double>(version->LevelBytes(level)) / limit;
    if (score > best_score) {
      best_score = score;
      best_level = level;
    }
    limit *= options_.level_size_ratio;
  }
  if (best_level < 0) return nullptr;

  auto c = std::make_unique<Compaction>();
  c->level = best_level;
  c->version = version;
  const Version::Files& files = version->files(best_level);
  if (best_level == 0) {
    // Every level-0 table: they may overlap each other, and taking them all keeps the rule that
    // a newer level-0 table is never left above an older one's merged output.
    c->inputs = files;
  } else {
    // Round robin through the level, from where its last compaction stopped.
    const std::string pointer = versions_.compact_pointer(best_level);
    auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) {
      return pointer.empty() || CompareInternalKeys(f->largest, pointer) > 0;
    });
    c->inputs.push_back(it != files.end() ? *it : files.front());
  }
  c->out_level = best_level + 1;
  const auto [lo, hi] = UserRange(c->inputs);
  c->below = version->Overlapping(best_level + 1, lo, hi);
  // Widen the inputs to every table of the level that lies inside the range the compaction
  // rewrites anyway, if that takes no more tables from the level below: those tables move
  // down for free, instead of costing a rewrite of the same tables below later (LevelDB
  // widens its inputs the same way, up to 25 tables' worth).
  if (best_level > 0 && !c->below.empty()) {
    Version::Files both = c->inputs;
    both.insert(both.end(), c->below.begin(), c->below.end());
    const auto [all_lo, all_hi] = UserRange(both);
    Version::Files wider = version->Overlapping(best_level, all_lo, all_hi);
    if (wider.size() > c->inputs.size() &&
        TotalBytes(wider) + TotalBytes(c->below) <= 25 * options_.max_file_size) {
      const auto [wide_lo, wide_hi] = UserRange(wider);
      if (version->Overlapping(best_level + 1, wide_lo, wide_hi).size() == c->below.size()) {
        c->inputs = std::move(wider);
      }
    }
  }
  return c;
}

// Size-tiered: sort the runs (the level-0 tables) by size and sweep them into tiers, each run
// joining the current tier while its size stays within [low, high] times the tier's average.
// The smallest tier with tiered_min_merge runs is merged. Which runs merge does not have to follow
// their age: a read compares sequence numbers across level 0 instead of trusting its order.
std::unique_ptr<LsmEngine::Compaction> LsmEngine::PickTieredCompaction() const {
  auto version = versions_.current();
  Version::Files runs = version->files(0);
  const auto min_merge = static_cast<std::size_t>(std::max(options_.tiered_min_merge, 2));
  const auto max_merge = std::max(static_cast<std::size_t>(options_.tiered_max_merge), min_merge);
  if (runs.size() < min_merge) return nullptr;
  std::ranges::stable_sort(runs, {}, [](const auto& f) { return f->size; });

  auto make = [&](Version::Files inputs) {
    auto c = std::make_unique<Compaction>();
    c->level = 0;
    c->out_level = 0;
    c->version = version;
    c->inputs = std::move(inputs);
    return c;
  };
  Version::Files tier;
  double tier_bytes = 0;
  for (const auto& run : runs) {
    const double size = static_cast<double>(run->size);
    const double average = tier.empty() ? size : tier_bytes / static_cast<double>(tier.size());
    if (!tier.empty() && (size < options_.tiered_bucket_low * average ||
                          size > options_.tiered_bucket_high * average)) {
      if (tier.size() >= min_merge) break;  // The smallest full tier wins.
      tier.clear();
      tier_bytes = 0;
    }
    tier.push_back(run);
    tier_bytes += size;
  }
  if (tier.size() >= min_merge) {
    if (tier.size() > max_merge) tier.resize(max_merge);
    return make(std::move(tier));
  }
  // No tier is full but the runs pile up (sizes too uneven to group): merge the smallest.
  if (runs.size() > static_cast<std::size_t>(options_.tiered_max_runs)) {
    runs.resize(min_merge);
    return make(std::move(runs));
  }
  return nullptr;
}

Status LsmEngine::RunCompaction(Compaction& c, std::unique_lock<std::mutex>& lock) {
  const int out_level = c.out_level;
  const bool tiered = out_level == c.level;
  VersionEdit edit;
  for (const auto& f : c.inputs) edit.deleted_files.emplace_back(c.level, f->number);
  for (const auto& f : c.below) edit.deleted_files.emplace_back(out_level, f->number);
  if (!tiered) edit.compact_pointers.emplace_back(c.level, c.inputs.back()->largest);

  if (c.IsTrivialMove()) {
    lock.unlock();
    edit.new_files.emplace_back(out_level, *c.inputs.front());
    Status s = versions_.LogAndApply(std::move(edit));
    lock.lock();
    if (!s.ok()) return s;
    ++stats_.trivial_moves;
    return Status::Ok();
  }

  const SequenceNumber oldest_snapshot = OldestSnapshot();
  lock.unlock();
  std::vector<std::shared_ptr<const Table>> tables;
  std::vector<std::unique_ptr<Iterator>> children;
  for (const Version::Files* files : {&c.inputs, &c.below}) {
    for (const auto& f : *files) {
      auto table = table_cache_.Find(*f);
      if (!table) {
        lock.lock();
        return table.error();
      }
      children.push_back((*table)->NewIterator(/*fill_cache=*/false));
      tables.push_back(std::move(*table));
    }
  }
  auto merged = NewMergingIterator(std::move(children), CompareInternalKeys);

  // Can no table outside this compaction hold an older version of `user_key`? Then a tombstone
  // for it shadows nothing and can go. Leveled: the levels below the output hold the older
  // data. Size-tiered: any run not being merged might (runs are not ordered by age), and so
  // might a deeper level left by an earlier leveled life of the tree.
  auto bottom_for = [&](std::string_view user_key) {
    for (int level = tiered ? 0 : out_level + 1; level < kNumLevels; ++level) {
      for (const auto& f : c.version->Overlapping(level, user_key, user_key)) {
        if (!c.Contains(f->number)) return false;
      }
    }
    return true;
  };

  struct Output {
    FileMeta meta;
    std::unique_ptr<WritableFile> file;
    std::unique_ptr<TableBuilder> builder;
  };
  std::vector<Output> outputs;
  std::uint64_t dropped = 0;
  Status s;
  auto finish_output = [&]() -> Status {
    Output& o = outputs.back();
    KV_RETURN_IF_ERROR(o.builder->Finish());
    KV_RETURN_IF_ERROR(o.file->Sync());
    KV_RETURN_IF_ERROR(o.file->Close());
    o.meta.size = o.builder->FileSize();
    o.meta.entries = o.builder->entries();
    o.meta.smallest = std::string(o.builder->smallest());
    o.meta.largest = std::string(o.builder->largest());
    o.builder.reset();
    return Status::Ok();
  };

  std::string current_user_key;
  bool has_current = false;
  SequenceNumber newer_sequence = kMaxSequenceNumber;  // Of the version before, same key.
  std::string last_output_user_key;
  // The tables of the level below the output ("grandparents"), to cut outputs at their
  // boundaries: an output that ends where a grandparent ends is later merged with whole
  // grandparents only, not with a sliver of one more at each end.
  const Version::Files* grandparents =
      !tiered && out_level + 1 < kNumLevels ? &c.version->files(out_level + 1) : nullptr;
  std::size_t grandparent = 0;  // The first grandparent not wholly before the current key.
  for (merged->SeekToFirst(); merged->Valid() && s.ok(); merged->Next()) {
    // A full memtable waiting for its flush stalls every writer, and a compaction deep in the
    // tree can take seconds: flush it now, between two entries (LevelDB does the same). Into
    // level 0 only: pushed deeper, the table could land in a gap between this compaction's
    // inputs that one of its outputs will span, and two tables of a level >= 1 would overlap.
    if (has_imm_.load(std::memory_order_relaxed)) {
      lock.lock();
      if (imm_ != nullptr) {
        s = FlushImmutable(lock, /*level0_only=*/true);
        if (s.ok()) ++stats_.flushes_during_compactions;
      }
      lock.unlock();
      if (!s.ok()) break;
    }
    auto parsed = ParseInternalKey(merged->key());
    if (!parsed) {
      s = parsed.error();
      break;
    }
    if (!has_current || parsed->user_key != current_user_key) {
      current_user_key.assign(parsed->user_key);
      has_current = true;
      newer_sequence = kMaxSequenceNumber;
    }
    bool drop = false;
    if (newer_sequence <= oldest_snapshot) {
      // A newer version of this key is visible to every reader: nobody can see this one.
      drop = true;
    } else if (parsed->kind == EntryKind::kDelete && parsed->sequence <= oldest_snapshot &&
               bottom_for(parsed->user_key)) {
      drop = true;
    }
    newer_sequence = parsed->sequence;
    if (drop) {
      ++dropped;
      continue;
    }
    // Cut the output at max_file_size, but never between two versions of one user key: levels
    // >= 1 keep disjoint user-key ranges.
    // A size tier's output is one run, one table: cut into pieces, it would look like several
    // small runs and be merged again at once.
    bool crossed_boundary = false;
    if (grandparents != nullptr) {
      while (grandparent < grandparents->size() &&
             CompareUserKeys(parsed->user_key, UserKeyOf((*grandparents)[grandparent], true)) > 0) {
        ++grandparent;
        crossed_boundary = true;
      }
    }
    const std::uint64_t output_size = !outputs.empty() && outputs.back().builder != nullptr
                                          ? outputs.back().builder->FileSize()
                                          : 0;
    if (!tiered && output_size > 0 &&
        (output_size >= options_.max_file_size ||
         (crossed_boundary && output_size >= options_.max_file_size / 2)) &&
        parsed->user_key != last_output_user_key) {
      s = finish_output();
      if (!s.ok()) break;
    }
    if (outputs.empty() || outputs.back().builder == nullptr) {
      Output o;
      o.meta.number = versions_.NewFileNumber();
      {
        std::lock_guard guard(mu_);
        pending_outputs_.insert(o.meta.number);
      }
      const std::string path = JoinPath(dir_, TableFileName(o.meta.number));
      auto file = fs_.NewWritableFile(path);
      if (!file) {
        s = file.error();
        outputs.push_back(std::move(o));
        break;
      }
      o.file = std::move(*file);
      o.builder = std::make_unique<TableBuilder>(options_.table, *o.file, path);
      outputs.push_back(std::move(o));
    }
    s = outputs.back().builder->Add(merged->key(), merged->value());
    last_output_user_key.assign(parsed->user_key);
  }
  if (s.ok()) s = merged->status();
  if (s.ok() && !outputs.empty() && outputs.back().builder != nullptr) s = finish_output();
  if (s.ok() && !outputs.empty()) s = fs_.SyncDir(dir_);
  std::uint64_t bytes_out = 0;
  if (s.ok()) {
    for (const Output& o : outputs) {
      if (o.meta.entries == 0) continue;
      edit.new_files.emplace_back(out_level, o.meta);
      bytes_out += o.meta.size;
    }
    s = versions_.LogAndApply(std::move(edit));
  }
  lock.lock();
  for (const Output& o : outputs) pending_outputs_.erase(o.meta.number);
  if (!s.ok()) return s;
  ++stats_.compactions;
  stats_.bytes_compacted_in += TotalBytes(c.inputs) + TotalBytes(c.below);
  stats_.bytes_compacted_out += bytes_out;
  stats_.bytes_written_to_level[static_cast<std::size_t>(out_level)] += bytes_out;
  stats_.versions_dropped += dropped;
  return Status::Ok();
}

SequenceNumber LsmEngine::OldestSnapshot() const {
  std::lock_guard lock(snapshots_mu_);
  return snapshots_.empty() ? visible_sequence_.load() : *snapshots_.begin();
}

void LsmEngine::DeleteObsoleteFiles() {
  const std::uint64_t log_number = versions_.log_number();
  // The directory first, then what is live. A table in the listing existed before it, so when
  // the live sets are read it is still pending, or in a version (its number leaves
  // pending_outputs_ only after its edit is applied), or garbage. The other order deletes a table
  // that a flush or compaction in another thread starts between the two.
  auto names = fs_.ListDir(dir_);
  if (!names) return;  // Garbage stays until the next attempt; it is never read.
  std::set<std::uint64_t> pending;
  {
    std::lock_guard lock(mu_);
    pending = pending_outputs_;
  }
  const std::vector<std::uint64_t> live_list = versions_.LiveTables();
  const std::set<std::uint64_t> in_versions(live_list.begin(), live_list.end());
  std::set<std::uint64_t> in_current;
  const auto current = versions_.current();
  for (int level = 0; level < kNumLevels; ++level) {
    for (const auto& f : current->files(level)) in_current.insert(f->number);
  }
  for (const std::string& name : *names) {
    if (auto segment = phase1::ParseWalSegmentName(name)) {
      if (*segment < log_number) (void)fs_.RemoveFile(JoinPath(dir_, name));
      continue;
    }
    auto number = ParseTableFileName(name);
    if (!number || pending.contains(*number)) continue;
    if (in_versions.contains(*number)) {
      if (!in_current.contains(*number)) {
        std::lock_guard lock(mu_);
        kept_for_old_versions_.insert(*number);
      }
      continue;
    }
    table_cache_.Evict(*number);
    if (fs_.RemoveFile(JoinPath(dir_, name)).ok()) {
      std::lock_guard lock(mu_);
      kept_for_old_versions_.erase(*number);
    }
  }
}

bool LsmEngine::NeedsBackgroundWork() const {
  return imm_ != nullptr || PickCompaction() != nullptr;
}

void LsmEngine::BackgroundLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    background_cv_.wait(
        lock, [&] { return stopping_ || (background_error_.ok() && NeedsBackgroundWork()); });
    if (stopping_) return;
    background_busy_ = true;
    Status s;
    if (imm_ != nullptr) {
      s = FlushImmutable(lock);
    } else if (auto c = PickCompaction()) {
      s = RunCompaction(*c, lock);
      c.reset();  // It holds the old version, whose tables would otherwise count as live.
      if (s.ok()) {
        lock.unlock();
        DeleteObsoleteFiles();
        lock.lock();
      }
    }
    if (!s.ok() && background_error_.ok()) background_error_ = s;
    background_busy_ = false;
    done_cv_.notify_all();
  }
}

Result<bool> LsmEngine::CompactOnce() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return !background_busy_; });
  auto c = PickCompaction();
  if (c == nullptr) return false;
  background_busy_ = true;
  Status s = RunCompaction(*c, lock);
  c.reset();  // It holds the old version, whose tables would otherwise count as live.
  background_busy_ = false;
  if (!s.ok()) {
    if (background_error_.ok()) background_error_ = s;
    done_cv_.notify_all();
    return s;
  }
  lock.unlock();
  DeleteObsoleteFiles();
  lock.lock();
  done_cv_.notify_all();
  return true;
}

Status LsmEngine::WaitForIdle() {
  std::unique_lock lock(mu_);
  if (!options_.background_work) return background_error_;
  background_cv_.notify_one();
  done_cv_.wait(lock, [&] {
    return !background_error_.ok() || (!background_busy_ && !NeedsBackgroundWork());
  });
  return background_error_;
}

// ---------------------------------------------------------------------------------------------
// Reads

LsmEngine::ReadView LsmEngine::AcquireReadView(const ReadOptions& options) const {
  ReadView view;
  {
    // Read together: a flush installs its table before it drops imm_, so whichever of the two we
    // see, the flushed data is in it.
    std::lock_guard lock(mu_);
    view.mem = mem_;
    view.imm = imm_;
    view.version = versions_.current();
  }
  // The sequence after the version, never before. A compaction keeps only the versions reads at
  // or after the visible sequence of its start can see; had it finished between an earlier load
  // of the sequence and the version, the read would find a key's newer version too new and its
  // older one dropped: an acknowledged write missing, or a key going back to an older value.
  // Loaded after, the sequence is at least that of every compaction in the version. (Writes it
  // covers that went to a memtable newer than `mem` are all newer than `mem`'s: the read is
  // still a prefix of the history.)
  view.sequence = options.snapshot != nullptr
                      ? static_cast<const SnapshotImpl*>(options.snapshot)->sequence()
                      : visible_sequence_.load();
  return view;
}

Result<std::string> LsmEngine::Get(const ReadOptions& options, std::string_view key) const {
  const auto [seq, mem, imm, version] = AcquireReadView(options);
  const LookupKey lookup(key, seq);
  auto answer = [&](TableEntry& e) -> Result<std::string> {
    if (e.kind == EntryKind::kDelete) return Status::NotFound(std::string(key));
    return std::move(e.value);  // The entry is ours: no second copy of the value.
  };
  if (auto e = mem->Get(lookup)) return answer(*e);
  if (imm != nullptr) {
    if (auto e = imm->Get(lookup)) return answer(*e);
  }
  auto search = [&](const FileMeta& f) -> Result<std::optional<TableEntry>> {
    KV_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table, table_cache_.Find(f));
    return table->Get(lookup);
  };
  // Level 0: every table whose range holds the key, keeping the newest version found. Its
  // tables may overlap, and size-tiered compaction merges runs regardless of their age, so the
  // order of the list says nothing; sequence numbers do. (LevelDB searches its level 0 newest
  // first and stops at the first hit, which is right only while level 0 is in age order.)
  std::optional<TableEntry> newest;
  for (const auto& f : version->files(0)) {
    if (CompareUserKeys(key, UserKeyOf(f, false)) < 0 ||
        CompareUserKeys(key, UserKeyOf(f, true)) > 0) {
      continue;
    }
    KV_ASSIGN_OR_RETURN(auto e, search(*f));
    if (e && (!newest || e->sequence > newest->sequence)) newest = std::move(e);
  }
  if (newest) return answer(*newest);
  for (int level = 1; level < kNumLevels; ++level) {
    const Version::Files& files = version->files(level);
    auto it =
        std::lower_bound(files.begin(), files.end(), key, [](const auto& f, std::string_view k) {
          return CompareUserKeys(UserKeyOf(f, true), k) < 0;
        });
    if (it == files.end() || CompareUserKeys(key, UserKeyOf(*it, false)) < 0) continue;
    KV_ASSIGN_OR_RETURN(auto e, search(**it));
    if (e) return answer(*e);
  }
  return Status::NotFound(std::string(key));
}

std::unique_ptr<Iterator> LsmEngine::NewIterator(const ReadOptions& options) const {
  const auto [seq, mem, imm, version] = AcquireReadView(options);
  std::vector<std::unique_ptr<Iterator>> children;
  std::vector<std::shared_ptr<const void>> pins{mem, version};
  children.push_back(mem->NewIterator());
  if (imm != nullptr) {
    children.push_back(imm->NewIterator());
    pins.push_back(imm);
  }
  // Each level-0 table is a run of its own; each deeper level is one run. The version owns the
  // lists the level iterators walk.
  const Version::Files& level0 = version->files(0);
  for (std::size_t i = 0; i < level0.size(); ++i) {
    children.push_back(
        NewLevelIterator(table_cache_, version, std::span(&level0[i], 1), options.fill_cache));
  }
  for (int level = 1; level < kNumLevels; ++level) {
    if (version->files(level).empty()) continue;
    children.push_back(
        NewLevelIterator(table_cache_, version, version->files(level), options.fill_cache));
  }
  return NewDbIterator(NewMergingIterator(std::move(children), CompareInternalKeys), seq,
                       std::move(pins));
}

std::unique_ptr<Snapshot> LsmEngine::GetSnapshot() const {
  std::lock_guard lock(snapshots_mu_);
  const SequenceNumber seq = visible_sequence_.load();
  snapshots_.insert(seq);
  return std::make_unique<SnapshotImpl>(*this, seq);
}

// ---------------------------------------------------------------------------------------------
// Introspection

LsmEngine::Stats LsmEngine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status LsmEngine::CheckInvariants() const {
  auto version = versions_.current();
  KV_RETURN_IF_ERROR(version->CheckInvariants());
  // The tables on disk are exactly the live ones, plus any being written right now and any an
  // old version held at the last cleanup (garbage until the next one, if that version is gone).
  std::set<std::uint64_t> live;
  for (std::uint64_t n : versions_.LiveTables()) live.insert(n);
  {
    std::lock_guard lock(mu_);
    for (std::uint64_t n : pending_outputs_) live.insert(n);
    for (std::uint64_t n : kept_for_old_versions_) live.insert(n);
  }
  KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
  std::set<std::uint64_t> on_disk;
  for (const std::string& name : names) {
    if (auto number = ParseTableFileName(name)) on_disk.insert(*number);
  }
  for (int level = 0; level < kNumLevels; ++level) {
    for (const auto& f : version->files(level)) {
      if (!on_disk.contains(f->number)) {
        return Status::Corruption(fmt::format("L{} table {} is not on disk", level, f->number));
      }
    }
  }
  for (std::uint64_t n : on_disk) {
    if (!live.contains(n)) {
      return Status::Corruption(fmt::format("table {} is on disk but in no live version", n));
    }
  }
  return Status::Ok();
}

std::string LsmEngine::DescribeState() const {
  std::lock_guard lock(mu_);
  const auto cache = block_cache_.stats();
  std::string written;
  for (int level = 0; level < kNumLevels; ++level) {
    const auto bytes = stats_.bytes_written_to_level[static_cast<std::size_t>(level)];
    if (bytes == 0) continue;
    written += fmt::format("{}L{} {:.1f} MiB", written.empty() ? "" : ", ", level,
                           static_cast<double>(bytes) / (1 << 20));
  }
  if (written.empty()) written = "no level yet";
  return fmt::format(
      "memtable {} entries {:.1f} MiB; immutable {}; {}; last sequence {}; flushes {} "
      "({:.1f} MiB, {} during compactions); compactions {} (+{} moves, read {:.1f} MiB, wrote "
      "{:.1f} MiB), pending {}; "
      "stalls {}; block cache {:.1f}/{:.1f} MiB, {} hits {} misses; written to {}",
      mem_->entries(), static_cast<double>(mem_->MemoryUsage()) / (1 << 20),
      imm_ != nullptr ? "yes" : "no", versions_.current()->Describe(), last_sequence_,
      stats_.flushes, static_cast<double>(stats_.bytes_flushed) / (1 << 20),
      stats_.flushes_during_compactions, stats_.compactions, stats_.trivial_moves,
      static_cast<double>(stats_.bytes_compacted_in) / (1 << 20),
      static_cast<double>(stats_.bytes_compacted_out) / (1 << 20),
      PickCompaction() != nullptr ? "yes" : "no", stats_.stalls,
      static_cast<double>(cache.bytes) / (1 << 20),
      static_cast<double>(block_cache_.capacity()) / (1 << 20), cache.hits, cache.misses, written);
}

}  // namespace kv::storage::lsm
