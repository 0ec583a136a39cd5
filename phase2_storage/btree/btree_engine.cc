// Open, recovery, checkpoints and the write path of the B+tree (btree_engine.h).
#include "phase2_storage/btree/btree_engine.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/check.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"
#include "phase2_storage/btree/btree_internal.h"
#include "phase2_storage/btree/redo.h"

namespace kv::storage::btree {

namespace {

constexpr std::string_view kPageFileName = "pages.db";
constexpr std::string_view kPageFileTemp = "pages.db.tmp";

}  // namespace

// ---------------------------------------------------------------------------------------------
// WriteOp

BTreeEngine::WriteOp::~WriteOp() {
  if (!done_) Rollback();
}

Result<const char*> BTreeEngine::WriteOp::Page(PageId id) {
  if (auto it = touched_.find(id); it != touched_.end()) return it->second.page.data();
  if (auto it = reads_.find(id); it != reads_.end()) return it->second.data();
  KV_ASSIGN_OR_RETURN(PageHandle page, e_.pool_->Pin(id));
  const char* data = page.data();
  reads_.emplace(id, std::move(page));
  return data;
}

Result<char*> BTreeEngine::WriteOp::Track(PageId id, PageHandle page, bool fresh) {
  // The before-image, in a buffer of the engine's that an earlier write gave back (a page-sized
  // allocation and free per changed page was a measurable share of a random insert).
  std::unique_ptr<char[]> before;
  if (!e_.spare_images_.empty()) {
    before = std::move(e_.spare_images_.back());
    e_.spare_images_.pop_back();
  } else {
    before = std::make_unique_for_overwrite<char[]>(e_.geo_.page_size);
  }
  std::memcpy(before.get(), page.data(), e_.geo_.page_size);
  if (!fresh) {
    // Every live epoch without an image of this page gets one: the page as it was when they
    // began (it has not changed since, or they would have one). Epochs get a copy of their own,
    // made only if one exists, since this buffer is reused once the write ends.
    std::lock_guard lock(e_.snap_mu_);
    InflightImage& inflight = e_.inflight_[id];
    inflight.bytes = before.get();
    std::erase_if(e_.live_epochs_, [&](const std::weak_ptr<ReadEpoch>& weak) {
      auto epoch = weak.lock();
      if (!epoch) return true;
      std::unique_lock epoch_lock(epoch->mu);
      if (!epoch->images.contains(id)) epoch->images.emplace(id, e_.SharedImage(inflight));
      epoch->has_images.store(true, std::memory_order_release);
      return false;
    });
  }
  if (!fresh) {
    // A barrier: a reader that found no image for this page may be reading the frame right
    // now, under its latch; wait for it. Every reader after this finds the image (its epoch
    // had one given above, or copies inflight_ when it is created), so the page can change
    // without the latch until the write ends.
    std::unique_lock barrier(page.frame()->latch);
  }
  char* data = page.data();
  touched_.emplace(id, Touched{std::move(page), std::move(before), fresh});
  return data;
}

std::shared_ptr<const std::string> BTreeEngine::SharedImage(InflightImage& image) const {
  if (!image.shared) {
    image.shared = std::make_shared<const std::string>(image.bytes, geo_.page_size);
  }
  return image.shared;
}

Status BTreeEngine::WriteOp::CheckBudget() const {
  if (touched_.size() < e_.max_op_pages_) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("one write may change at most {} pages with this buffer pool ({} frames)",
                  e_.max_op_pages_, e_.pool_->frames()));
}

Result<char*> BTreeEngine::WriteOp::Mutable(PageId id) {
  if (auto it = touched_.find(id); it != touched_.end()) return it->second.page.data();
  KV_RETURN_IF_ERROR(CheckBudget());
  KV_ASSIGN_OR_RETURN(PageHandle page, e_.pool_->Pin(id));
  return Track(id, std::move(page), /*fresh=*/false);
}

Result<Meta*> BTreeEngine::WriteOp::meta() {
  if (!meta_) {
    KV_ASSIGN_OR_RETURN(const char* page, Page(kMetaPageId));
    meta_ = ReadMeta(page);
  }
  return &*meta_;
}

Result<PageId> BTreeEngine::WriteOp::Allocate() {
  KV_ASSIGN_OR_RETURN(Meta * m, meta());
  if (m->free_head != kNoPage) {
    const PageId id = m->free_head;
    KV_ASSIGN_OR_RETURN(char* page, Mutable(id));
    if (GetPageType(page) != PageType::kFree) {
      return Status::Corruption(fmt::format("{}: page {} is on the free list but is a {} page",
                                            e_.file_name_, id, PageTypeName(GetPageType(page))));
    }
    m->free_head = PageLink(page);
    --m->free_count;
    return id;
  }
  if (m->page_count == std::numeric_limits<std::uint32_t>::max()) {
    return Status::NoSpace(fmt::format("{}: no page numbers left", e_.file_name_));
  }
  KV_RETURN_IF_ERROR(CheckBudget());
  const PageId id = m->page_count;
  KV_ASSIGN_OR_RETURN(PageHandle page, e_.pool_->PinNew(id));
  std::memset(page.data(), 0, e_.geo_.page_size);
  KV_RETURN_IF_ERROR(Track(id, std::move(page), /*fresh=*/true).status());
  ++m->page_count;
  return id;
}

Status BTreeEngine::WriteOp::Free(PageId id) {
  KV_ASSIGN_OR_RETURN(Meta * m, meta());
  KV_ASSIGN_OR_RETURN(char* page, Mutable(id));
  std::memset(page + kTypeOffset, 0, e_.geo_.page_size - kTypeOffset);
  page[kTypeOffset] = static_cast<char>(PageType::kFree);
  SetPageLink(page, m->free_head);
  m->free_head = id;
  ++m->free_count;
  return Status::Ok();
}

Status BTreeEngine::WriteOp::Commit(phase1::WalWriter::Ticket& ticket, bool sync, bool* logged) {
  *logged = false;
  if (meta_) {
    KV_ASSIGN_OR_RETURN(const char* current, Page(kMetaPageId));
    if (!(ReadMeta(current) == *meta_)) {
      KV_ASSIGN_OR_RETURN(char* page, Mutable(kMetaPageId));
      WriteMeta(page, *meta_);
    }
  }
  const std::size_t page_size = e_.geo_.page_size;
  const Lsn lsn = e_.next_lsn_;
  std::string body;
  std::uint32_t changed = 0;
  std::vector<char*> stamp;
  for (auto& [id, t] : touched_) {
    char* after = t.page.data();
    const bool image = t.fresh || PageLsn(t.before.get()) < e_.redo_lsn_;
    if (image) {
      if (std::memcmp(t.before.get() + kLoggedFrom, after + kLoggedFrom, page_size - kLoggedFrom) ==
              0 &&
          !t.fresh) {
        continue;  // Unchanged.
      }
      AppendPageImage(body, id, after, page_size);
      ++e_.counters_.page_images;
    } else {
      if (!AppendPageDiff(body, id, t.before.get(), after, page_size)) continue;
      ++e_.counters_.page_diffs;
    }
    ++changed;
    stamp.push_back(after);
    e_.pool_->MarkDirty(t.page);
  }
  if (changed == 0) {
    Finish();
    return Status::Ok();
  }
  std::string payload;
  payload.reserve(body.size() + 16);
  AppendFixed64(payload, lsn);
  AppendVarint32(payload, changed);
  payload.append(body);
  ticket.bytes.clear();
  phase1::AppendRecord(ticket.bytes, payload);
  ticket.sync = sync;
  for (char* page : stamp) SetPageLsn(page, lsn);
  e_.next_lsn_ = lsn + 1;
  e_.log_bytes_since_checkpoint_ += ticket.bytes.size();
  ++e_.counters_.log_records;
  e_.counters_.log_bytes += ticket.bytes.size();
  e_.wal_->Push(ticket);
  e_.pushed_lsn_.store(lsn);
  *logged = true;
  Finish();
  return Status::Ok();
}

void BTreeEngine::WriteOp::Finish() {
  {
    std::lock_guard lock(e_.snap_mu_);
    ++e_.committed_writes_;
    e_.inflight_.clear();
    e_.current_epoch_.reset();  // Readers of the state before this write keep their own copy.
  }
  GiveBackImages();
  touched_.clear();  // Unpins each page.
  reads_.clear();
  done_ = true;
}

void BTreeEngine::WriteOp::GiveBackImages() {
  // Once inflight_ no longer points at them, nobody else can see these buffers.
  constexpr std::size_t kKeep = 64;
  for (auto& [id, t] : touched_) {
    if (e_.spare_images_.size() < kKeep) e_.spare_images_.push_back(std::move(t.before));
  }
}

void BTreeEngine::WriteOp::Rollback() {
  std::vector<PageHandle> discard;
  for (auto& [id, t] : touched_) {
    std::memcpy(t.page.data(), t.before.get(), e_.geo_.page_size);
    if (t.fresh) discard.push_back(std::move(t.page));
  }
  for (PageHandle& page : discard) e_.pool_->Discard(page);
  {
    std::lock_guard lock(e_.snap_mu_);
    e_.inflight_.clear();  // Epochs keep their copies: they equal the pages again.
  }
  GiveBackImages();
  touched_.clear();
  reads_.clear();
  ++e_.counters_.rollbacks;
  done_ = true;
}

// ---------------------------------------------------------------------------------------------
// Open and recovery

BTreeEngine::BTreeEngine(FileSystem& fs, std::string dir, BTreeOptions options)
    : fs_(fs),
      dir_(std::move(dir)),
      options_(std::move(options)),
      geo_(options_.page_size),
      limits_(options_.limits),
      file_name_(JoinPath(dir_, kPageFileName)) {}

namespace {

// How many pages one write may change: the pool keeps frames for readers and the write's reads.
std::size_t MaxOpPages(std::size_t frames) {
  return frames - std::max<std::size_t>(16, frames / 8);
}

}  // namespace

Result<phase1::Limits> BTreeEngine::LimitsFor(const BTreeOptions& options) {
  const std::size_t ps = options.page_size;
  if (ps < kMinPageSize || ps > kMaxPageSize || !std::has_single_bit(ps)) {
    return Status::InvalidArgument(fmt::format("page size {} is not a power of two from {} to {}",
                                               ps, kMinPageSize, kMaxPageSize));
  }
  const std::size_t frames = options.buffer_pool_bytes / ps;
  if (frames < 64) {
    return Status::InvalidArgument(
        fmt::format("a buffer pool of {} bytes holds {} pages of {} bytes; it needs at least 64",
                    options.buffer_pool_bytes, frames, ps));
  }
  const PageGeometry geo(ps);
  phase1::Limits limits = options.limits;
  limits.max_key_bytes = std::min(limits.max_key_bytes, geo.max_key);
  // A value's overflow pages, and those of the value it replaces, fit one write.
  const std::size_t value_pages = MaxOpPages(frames) / 2 - 16;
  limits.max_value_bytes =
      std::min({limits.max_value_bytes, value_pages * geo.overflow_payload,
                static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())});
  return limits;
}

Result<std::unique_ptr<BTreeEngine>> BTreeEngine::Open(FileSystem& fs, std::string dir,
                                                       BTreeOptions options) {
  KV_ASSIGN_OR_RETURN(phase1::Limits limits, LimitsFor(options));
  const std::size_t ps = options.page_size;
  const std::size_t frames = options.buffer_pool_bytes / ps;
  std::unique_ptr<BTreeEngine> e(new BTreeEngine(fs, std::move(dir), std::move(options)));
  e->max_op_pages_ = MaxOpPages(frames);
  e->limits_ = limits;

  if (e->options_.create_if_missing) KV_RETURN_IF_ERROR(fs.CreateDirs(e->dir_));
  KV_ASSIGN_OR_RETURN(e->lock_file_, fs.LockFile(JoinPath(e->dir_, "LOCK")));
  KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(e->dir_));
  std::vector<std::uint64_t> segments;
  bool have_pages = false;
  for (const std::string& name : names) {
    if (auto n = phase1::ParseWalSegmentName(name)) segments.push_back(*n);
    if (name == kPageFileName) have_pages = true;
    if (name == kPageFileTemp) KV_RETURN_IF_ERROR(fs.RemoveFile(JoinPath(e->dir_, name)));
  }
  std::sort(segments.begin(), segments.end());
  if (!have_pages) {
    if (!segments.empty()) {
      return Status::Corruption(fmt::format("{}: log segments but no page file", e->dir_));
    }
    if (!e->options_.create_if_missing) {
      return Status::NotFound(fmt::format("{}: no B+tree here", e->dir_));
    }
    KV_RETURN_IF_ERROR(e->Initialize());
  }
  KV_ASSIGN_OR_RETURN(e->file_, fs.NewRandomRWFile(e->file_name_));
  {
    // The page size is fixed when the tree is created. Page 0 says which, before anything can
    // be read at the right size (the field never changes, so even a torn page 0 keeps it).
    std::string head(64, '\0');  // The meta page's fields (page.h).
    KV_ASSIGN_OR_RETURN(std::size_t got, e->file_->Read(0, std::span(head.data(), head.size())));
    if (got == head.size() && GetPageType(head.data()) == PageType::kMeta &&
        std::string_view(head.data() + kPageHeaderSize, kMetaMagic.size()) == kMetaMagic) {
      const std::size_t created = ReadMeta(head.data()).page_size;
      if (created != ps) {
        return Status::InvalidArgument(
            fmt::format("{}: the tree was created with {}-byte pages, opened with {}",
                        e->file_name_, created, ps));
      }
    }
  }
  BTreeEngine* raw = e.get();
  e->pool_ = std::make_unique<BufferPool>(
      *e->file_, e->file_name_, ps, frames, [raw] { return raw->durable_lsn_.load(); },
      [raw](Lsn lsn) { return raw->EnsureLogDurable(lsn); });
  KV_RETURN_IF_ERROR(e->Recover(segments));
  const std::uint64_t next_segment = segments.empty() ? 1 : segments.back() + 1;
  KV_ASSIGN_OR_RETURN(
      e->wal_, phase1::WalWriter::Create(fs, e->dir_, next_segment, phase1::SyncPolicy::kNone, 0));
  std::lock_guard lock(e->writer_mu_);
  KV_RETURN_IF_ERROR(e->CheckpointLocked());
  return e;
}

// A new tree: the meta page and an empty root leaf, written to a temporary file that is synced
// and then renamed, so `pages.db` either does not exist or holds a whole tree.
Status BTreeEngine::Initialize() {
  const std::string temp = JoinPath(dir_, kPageFileTemp);
  KV_ASSIGN_OR_RETURN(auto file, fs_.NewRandomRWFile(temp));
  const std::size_t ps = geo_.page_size;
  std::string pages(2 * ps, '\0');
  Meta m;
  m.page_size = static_cast<std::uint32_t>(ps);
  m.root = 1;
  m.page_count = 2;
  m.height = 1;
  WriteMeta(pages.data(), m);
  SlottedPage(pages.data() + ps, ps).Init(PageType::kLeaf, kNoPage);
  SealPage(pages.data(), ps);
  SealPage(pages.data() + ps, ps);
  KV_RETURN_IF_ERROR(file->Write(0, pages));
  KV_RETURN_IF_ERROR(file->Sync());
  KV_RETURN_IF_ERROR(file->Close());
  KV_RETURN_IF_ERROR(fs_.Rename(temp, file_name_));
  return fs_.SyncDir(dir_);
}

Status BTreeEngine::Recover(const std::vector<std::uint64_t>& segments) {
  // The log as found is what replay builds pages from, and pages built from it may reach the
  // page file (evictions): so it must be durable first, or a second crash could keep such a
  // page while losing the records it came from.
  auto sync_file = [&](const std::string& path) -> Status {
    KV_ASSIGN_OR_RETURN(auto f, fs_.NewAppendableFile(path));
    KV_RETURN_IF_ERROR(f->Sync());
    return f->Close();
  };
  for (std::uint64_t n : segments) {
    KV_RETURN_IF_ERROR(sync_file(JoinPath(dir_, phase1::WalSegmentName(n))));
  }
  {
    std::lock_guard lock(durable_mu_);
    durable_lsn_.store(std::numeric_limits<Lsn>::max());
  }
  std::unordered_map<PageId, Lsn> imaged;  // Pages that had a full image in this replay.
  Lsn last = 0;
  std::uint64_t records = 0;
  for (std::size_t k = 0; k < segments.size(); ++k) {
    const std::string path = JoinPath(dir_, phase1::WalSegmentName(segments[k]));
    KV_ASSIGN_OR_RETURN(auto file, fs_.NewRandomAccessFile(path));
    KV_ASSIGN_OR_RETURN(std::uint64_t size, file->Size());
    std::string data(size, '\0');
    KV_ASSIGN_OR_RETURN(std::size_t got, file->Read(0, std::span(data.data(), data.size())));
    data.resize(got);
    phase1::RecordReader reader(data, path);
    bool end = false;
    while (!end) {
      switch (reader.Next()) {
        case phase1::RecordReader::Outcome::kRecord: {
          auto where = [&] { return fmt::format("{} at offset {}", path, reader.record_offset()); };
          auto record = DecodeRedoRecord(reader.payload(), geo_.page_size);
          if (!record.has_value()) return record.error().WithContext(where());
          if (last != 0 && record->lsn != last + 1) {
            return Status::Corruption(fmt::format(
                "{}: record {} follows record {}: the log has a gap", where(), record->lsn, last));
          }
          for (const PageChange& change : record->changes) {
            Result<PageHandle> page = change.kind == ChangeKind::kImage ? pool_->PinNew(change.id)
                                                                        : pool_->Pin(change.id);
            if (!page.has_value()) return page.error().WithContext(where());
            if (change.kind == ChangeKind::kDiff) {
              if (!imaged.contains(change.id) && PageLsn(page->data()) < record->lsn) {
                return Status::Corruption(fmt::format(
                    "{}: record {} patches page {}, which is older and had no full image before",
                    where(), record->lsn, change.id));
              }
              if (PageLsn(page->data()) >= record->lsn) continue;
            } else {
              imaged[change.id] = record->lsn;
            }
            Status s = ApplyPageChange(change, record->lsn, page->data(), geo_.page_size);
            if (!s.ok()) return s.WithContext(where());
            pool_->MarkDirty(*page);
          }
          last = record->lsn;
          ++records;
          break;
        }
        case phase1::RecordReader::Outcome::kEnd:
          end = true;
          break;
        case phase1::RecordReader::Outcome::kTornTail: {
          if (k + 1 != segments.size()) {
            return Status::Corruption(
                fmt::format("{}: cut short at offset {}, but later log segments follow it", path,
                            reader.record_offset()));
          }
          const std::uint64_t keep = reader.record_offset();
          recovery_note_ = fmt::format("the log ends in a torn tail of {} bytes in {}",
                                       data.size() - keep, path);
          KV_RETURN_IF_ERROR(fs_.Truncate(path, keep));
          KV_RETURN_IF_ERROR(sync_file(path));
          end = true;
          break;
        }
        case phase1::RecordReader::Outcome::kCorrupt:
          return reader.status();
      }
    }
  }
  KV_ASSIGN_OR_RETURN(PageHandle meta, pool_->Pin(kMetaPageId));
  KV_RETURN_IF_ERROR(CheckMeta(meta.data(), geo_.page_size).WithContext(file_name_));
  const Lsn newest = std::max(last, PageLsn(meta.data()));
  {
    std::lock_guard lock(writer_mu_);
    next_lsn_ = newest + 1;
    // Pages changed from here on get a full image first, as after a checkpoint: the log is
    // about to start a new segment, and until the checkpoint below completes, a page torn while
    // it writes them must be rebuilt from the new segment alone if the old ones are gone.
    redo_lsn_ = next_lsn_;
  }
  pushed_lsn_.store(newest);
  {
    std::lock_guard lock(durable_mu_);
    durable_lsn_.store(newest);
  }
  if (records > 0) {
    recovery_note_ = fmt::format("replayed {} log records{}{}", records,
                                 recovery_note_.empty() ? "" : "; ", recovery_note_);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and durability

Status BTreeEngine::EnsureLogDurable(Lsn lsn) {
  std::lock_guard lock(durable_mu_);
  if (lsn <= durable_lsn_.load()) return Status::Ok();
  const Lsn target = pushed_lsn_.load();
  if (wal_ == nullptr) return Status::IOError("page newer than the log, and no log open");
  KV_RETURN_IF_ERROR(wal_->Sync());
  durable_lsn_.store(std::max(durable_lsn_.load(), target));
  return Status::Ok();
}

Status BTreeEngine::Checkpoint() {
  std::lock_guard lock(writer_mu_);
  return CheckpointLocked();
}

Status BTreeEngine::CheckpointLocked() {
  if (!error_.ok()) return error_;
  auto run = [&]() -> Status {
    // 1. A logged change to the meta page: the checkpoint's own record. It makes sure page 0 is
    //    in the log since the previous checkpoint, so a tear while writing it below is repaired.
    phase1::WalWriter::Ticket ticket;
    bool logged = false;
    {
      WriteOp op(*this);
      KV_ASSIGN_OR_RETURN(Meta * m, op.meta());
      ++m->checkpoints;
      KV_RETURN_IF_ERROR(op.Commit(ticket, /*sync=*/false, &logged));
    }
    if (logged) KV_RETURN_IF_ERROR(wal_->Await(ticket));
    // 2. The log, then every dirty page, then the page file, durable.
    KV_RETURN_IF_ERROR(EnsureLogDurable(next_lsn_ - 1));
    KV_RETURN_IF_ERROR(pool_->FlushAll());
    KV_RETURN_IF_ERROR(file_->Sync());
    // 3. The log so far is no longer needed: start a new segment and delete the older ones.
    KV_ASSIGN_OR_RETURN(std::uint64_t segment, wal_->Rotate(phase1::WalWriter::OldSegment::kSync));
    KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
    for (const std::string& name : names) {
      auto n = phase1::ParseWalSegmentName(name);
      if (n && *n < segment) KV_RETURN_IF_ERROR(fs_.RemoveFile(JoinPath(dir_, name)));
    }
    KV_RETURN_IF_ERROR(fs_.SyncDir(dir_));
    redo_lsn_ = next_lsn_;
    log_bytes_since_checkpoint_ = 0;
    ++counters_.checkpoints;
    return Status::Ok();
  };
  Status s = run();
  if (!s.ok()) error_ = s;
  return s;
}

Status BTreeEngine::Flush() { return Checkpoint(); }

Status BTreeEngine::Sync() {
  {
    std::lock_guard lock(writer_mu_);
    if (!error_.ok()) return error_;
  }
  return wal_->Sync();
}

BTreeEngine::~BTreeEngine() {
  if (wal_ != nullptr) {
    std::lock_guard lock(writer_mu_);
    if (error_.ok()) (void)CheckpointLocked();
  }
  wal_.reset();
  pool_.reset();
  if (file_ != nullptr) (void)file_->Close();
}

// ---------------------------------------------------------------------------------------------
// Writes

Status BTreeEngine::Put(const WriteOptions& options, std::string_view key, std::string_view value) {
  const Change c{true, key, value};
  return Apply(options, std::span(&c, 1));
}

Status BTreeEngine::Delete(const WriteOptions& options, std::string_view key) {
  const Change c{false, key, {}};
  return Apply(options, std::span(&c, 1));
}

Status BTreeEngine::Write(const WriteOptions& options, const WriteBatch& batch) {
  std::vector<Change> changes;
  changes.reserve(batch.size());
  for (const WriteBatch::Entry& entry : batch.entries()) {
    changes.push_back({entry.op == WriteBatch::Op::kPut, entry.key, entry.value});
  }
  return Apply(options, changes);
}

Status BTreeEngine::Apply(const WriteOptions& options, std::span<const Change> changes) {
  for (const Change& c : changes) {
    KV_RETURN_IF_ERROR(phase1::ValidateKey(limits_, c.key));
    if (c.put) KV_RETURN_IF_ERROR(phase1::ValidateValue(limits_, c.value));
  }
  phase1::WalWriter::Ticket ticket;
  bool logged = false;
  bool checkpoint_due = false;
  {
    std::lock_guard lock(writer_mu_);
    if (!error_.ok()) return error_;
    WriteOp op(*this);
    for (const Change& c : changes) {
      Status s = c.put ? PutOne(op, c.key, c.value) : DeleteOne(op, c.key);
      if (!s.ok()) {
        op.Rollback();
        return s;
      }
      op.ReleaseReads();
    }
    Status s = op.Commit(ticket, options.sync, &logged);
    if (!s.ok()) {
      op.Rollback();
      return s;
    }
    checkpoint_due = log_bytes_since_checkpoint_ >= options_.checkpoint_log_bytes;
  }
  if (!logged && options.sync) {
    // Nothing changed (say, deleting a missing key), but a sync write still promises that
    // every write acknowledged before it is durable.
    return Sync();
  }
  if (logged) {
    Status s = wal_->Await(ticket);
    if (!s.ok()) {
      // The pages in memory hold a write the log does not: refuse further writes until reopened
      // (recovery rebuilds from the log).
      std::lock_guard lock(writer_mu_);
      if (error_.ok()) error_ = s;
      return s;
    }
  }
  if (checkpoint_due) {
    std::lock_guard lock(writer_mu_);
    if (log_bytes_since_checkpoint_ >= options_.checkpoint_log_bytes) {
      KV_RETURN_IF_ERROR(CheckpointLocked());
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Epochs, stats

std::shared_ptr<BTreeEngine::ReadEpoch> BTreeEngine::RegisterEpoch() const {
  std::lock_guard lock(snap_mu_);
  // Readers between two writes share one epoch; the engine keeps it until the next write ends,
  // so a stream of Gets allocates nothing.
  if (current_epoch_ && current_epoch_->writes == committed_writes_) return current_epoch_;
  auto epoch = std::make_shared<ReadEpoch>();
  epoch->writes = committed_writes_;
  // A write in progress has changed these pages already; the epoch sees them as before it.
  for (auto& [id, image] : inflight_) epoch->images.emplace(id, SharedImage(image));
  epoch->has_images.store(!inflight_.empty(), std::memory_order_release);
  std::erase_if(live_epochs_, [](const std::weak_ptr<ReadEpoch>& weak) { return weak.expired(); });
  live_epochs_.push_back(epoch);
  current_epoch_ = epoch;
  return epoch;
}

std::optional<std::uint64_t> BTreeEngine::BlocksRead() const {
  const BufferPool::Stats s = pool_->stats();
  return s.misses + s.uncached_reads;
}

void BTreeEngine::SetBeforeUncachedCopyForTest(std::function<void(PageId)> hook) {
  pool_->SetBeforeUncachedCopyForTest(std::move(hook));
}

std::unique_ptr<Snapshot> BTreeEngine::GetSnapshot() const {
  return std::make_unique<SnapshotImpl>(RegisterEpoch());
}

BTreeEngine::Stats BTreeEngine::stats() const {
  Stats s;
  {
    std::lock_guard lock(writer_mu_);
    s = counters_;
  }
  s.pool = pool_->stats();
  View view(*this, RegisterEpoch());
  if (auto m = view.ReadMetaPage(); m.has_value()) {
    s.height = m->height;
    s.pages = m->page_count;
    s.free_pages = m->free_count;
  }
  return s;
}

std::string BTreeEngine::DescribeState() const {
  const Stats s = stats();
  return fmt::format(
      "height {}, {} pages of {} bytes ({} free); buffer pool {} frames: {} hits, {} misses, "
      "{} evictions, {} pages written, {} leaf reads around the pool; log: {} records, {} bytes "
      "({} full page images, {} diffs), {} checkpoints; {} splits, {} merges, {} redistributions",
      s.height, s.pages, geo_.page_size, s.free_pages, pool_->frames(), s.pool.hits, s.pool.misses,
      s.pool.evictions, s.pool.writebacks, s.pool.uncached_reads, s.log_records, s.log_bytes,
      s.page_images, s.page_diffs, s.checkpoints, s.splits, s.merges, s.redistributions);
}

}  // namespace kv::storage::btree
