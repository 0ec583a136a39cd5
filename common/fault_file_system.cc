#include "common/fault_file_system.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"
#include "common/random.h"

namespace kv {
namespace {

// Writes `data` at `offset` of `image`, extending it (zeros before `offset`) if it reaches past
// the end, as a write to a file does. Writing nothing changes nothing.
void WriteAt(std::string& image, std::uint64_t offset, std::string_view data) {
  if (data.empty()) return;
  if (image.size() < offset + data.size()) image.resize(offset + data.size(), '\0');
  image.replace(offset, data.size(), data);
}

// What the disk holds of a file with reserved room (WritableFile::Reserve), given its current
// `contents`: the first `keep` bytes, then zeros up to `durable_end` (the reserved zeros that a
// Sync made durable; bytes appended over them since are lost).
std::string DurableReservedImage(std::string contents, std::uint64_t keep,
                                 std::uint64_t durable_end) {
  keep = std::min<std::uint64_t>(keep, contents.size());
  contents.resize(keep);
  if (durable_end > keep) contents.resize(durable_end, '\0');
  return contents;
}

}  // namespace

// A handle on a file of a FaultInjectionFileSystem. Every call goes through the file system's
// mutex so that faults, crashes and the durable-length bookkeeping see one order of events.
class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionFileSystem* fs, std::unique_ptr<WritableFile> base,
                    std::shared_ptr<FaultInjectionFileSystem::Inode> inode, std::uint64_t gen)
      : fs_(fs), base_(std::move(base)), inode_(std::move(inode)), generation_(gen) {}

  Status Append(std::string_view data) override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckAlive());
    KV_RETURN_IF_ERROR(fs_->CountWrite());
    const std::uint64_t offset = base_->Size();
    KV_RETURN_IF_ERROR(base_->Append(data));
    if (inode_->unlinked_data) WriteAt(*inode_->unlinked_data, offset, data);
    if (inode_->in_place && !data.empty()) {
      inode_->in_place->unsynced.push_back({offset, std::string(data)});
    }
    if (auto& r = inode_->reserved) {
      r->appended = offset + data.size();
      r->end = std::max(r->end, r->appended);
    }
    return Status::Ok();
  }
  Status Reserve(std::uint64_t bytes) override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckAlive());
    if (inode_->in_place) {
      return Status::NotSupported("reserve in a file that is also written in place");
    }
    KV_RETURN_IF_ERROR(fs_->CountWrite());
    KV_RETURN_IF_ERROR(base_->Reserve(bytes));
    auto& r = inode_->reserved;
    if (!r) r = FaultInjectionFileSystem::Inode::Reserved{};
    r->appended = base_->Size();
    r->end = std::max(r->end, r->appended) + bytes;
    if (inode_->unlinked_data) inode_->unlinked_data->append(bytes, '\0');
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckAlive());
    KV_RETURN_IF_ERROR(fs_->CheckMutation());
    return base_->Flush();
  }
  Status Sync() override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckAlive());
    KV_RETURN_IF_ERROR(fs_->CountSync());
    KV_RETURN_IF_ERROR(base_->Sync());
    inode_->durable_size = base_->Size();
    if (inode_->in_place) FaultInjectionFileSystem::SyncInPlace(*inode_->in_place);
    if (inode_->reserved) inode_->reserved->durable_end = inode_->reserved->end;
    return Status::Ok();
  }
  Status Close() override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckAlive());
    // Closing flushes; after a crash the bytes must not reach the disk.
    if (fs_->crashed_) return Status::IOError("close after power lost");
    return base_->Close();
  }
  std::uint64_t Size() const override { return base_->Size(); }

 private:
  Status CheckAlive() const {
    if (generation_ != fs_->generation_) {
      return Status::IOError("file handle opened before a power cut");
    }
    return Status::Ok();
  }

  FaultInjectionFileSystem* fs_;  // Not owned; outlives its handles.
  std::unique_ptr<WritableFile> base_;
  std::shared_ptr<FaultInjectionFileSystem::Inode> inode_;
  std::uint64_t generation_;
};

// A read handle of a FaultInjectionFileSystem: counts reads and applies the read faults.
class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultInjectionFileSystem* fs, std::unique_ptr<RandomAccessFile> base,
                        std::string path)
      : fs_(fs), base_(std::move(base)), path_(std::move(path)) {}

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(fs_->CountRead());
    KV_ASSIGN_OR_RETURN(std::size_t n, base_->Read(offset, buf));
    fs_->ApplyBitFlip(path_, offset, buf, n);
    return n;
  }
  Result<std::uint64_t> Size() const override { return base_->Size(); }

 private:
  FaultInjectionFileSystem* fs_;  // Not owned; outlives its handles.
  std::unique_ptr<RandomAccessFile> base_;
  const std::string path_;
};

// A read-write handle on a page file of a FaultInjectionFileSystem. Every call holds the file
// system's mutex: it counts writes, syncs and reads, applies their faults, and keeps the inode's
// list of unsynced writes in the order the wrapped file saw them.
class FaultRandomRWFile final : public RandomRWFile {
 public:
  FaultRandomRWFile(FaultInjectionFileSystem* fs, std::unique_ptr<RandomRWFile> base,
                    std::shared_ptr<FaultInjectionFileSystem::Inode> inode, std::string path,
                    std::uint64_t gen)
      : fs_(fs),
        base_(std::move(base)),
        inode_(std::move(inode)),
        path_(std::move(path)),
        generation_(gen) {}

  Status Write(std::uint64_t offset, std::string_view data) override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckOpen());
    KV_RETURN_IF_ERROR(fs_->CountWrite());
    KV_RETURN_IF_ERROR(base_->Write(offset, data));
    // Invariant: no recorded write is empty (PowerCut draws a torn length below its size).
    if (!data.empty()) inode_->in_place->unsynced.push_back({offset, std::string(data)});
    return Status::Ok();
  }
  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckOpen());
    KV_RETURN_IF_ERROR(fs_->CountRead());
    KV_ASSIGN_OR_RETURN(std::size_t n, base_->Read(offset, buf));
    fs_->ApplyBitFlip(path_, offset, buf, n);
    return n;
  }
  Status Sync() override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckOpen());
    KV_RETURN_IF_ERROR(fs_->CountSync());
    KV_RETURN_IF_ERROR(base_->Sync());
    FaultInjectionFileSystem::SyncInPlace(*inode_->in_place);
    return Status::Ok();
  }
  Result<std::uint64_t> Size() const override {
    std::lock_guard lock(fs_->mu_);
    KV_RETURN_IF_ERROR(CheckOpen());
    return base_->Size();
  }
  Status Close() override {
    std::lock_guard lock(fs_->mu_);
    if (closed_) return Status::Ok();
    KV_RETURN_IF_ERROR(CheckOpen());
    closed_ = true;  // Closing writes nothing, so it is allowed after a crash.
    return base_->Close();
  }

 private:
  // REQUIRES: fs_->mu_ held.
  Status CheckOpen() const {
    if (generation_ != fs_->generation_) {
      return Status::IOError(fmt::format("{}: file handle opened before a power cut", path_));
    }
    if (closed_) return Status::IOError(fmt::format("{}: file handle is closed", path_));
    return Status::Ok();
  }

  FaultInjectionFileSystem* fs_;  // Not owned; outlives its handles.
  std::unique_ptr<RandomRWFile> base_;
  std::shared_ptr<FaultInjectionFileSystem::Inode> inode_;  // Invariant: inode_->in_place set.
  const std::string path_;                                  // The name it was opened by.
  const std::uint64_t generation_;
  bool closed_ = false;  // GUARDED_BY(fs_->mu_)
};

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem& base) : base_(base) {}
FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

void FaultInjectionFileSystem::FailNth(FaultOp op, std::uint64_t n, Status error) {
  KV_CHECK(n >= 1, "FailNth counts from 1");
  KV_CHECK(!error.ok(), "an injected fault must be an error");
  std::lock_guard lock(mu_);
  if (op == FaultOp::kWrite) {
    fail_write_at_ = writes_ + n;
    fail_write_status_ = std::move(error);
  } else if (op == FaultOp::kRead) {
    fail_read_at_ = reads_ + n;
    fail_read_status_ = std::move(error);
  } else {
    fail_sync_at_ = syncs_ + n;
    fail_sync_status_ = std::move(error);
  }
}

void FaultInjectionFileSystem::CrashAtSync(std::uint64_t n) {
  KV_CHECK(n >= 1, "CrashAtSync counts from 1");
  std::lock_guard lock(mu_);
  crash_at_sync_ = syncs_ + n;
}

void FaultInjectionFileSystem::FlipBitOnRead(const std::string& path, std::uint64_t offset,
                                             int bit) {
  KV_CHECK(bit >= 0 && bit < 8, "a byte has bits 0..7");
  std::lock_guard lock(mu_);
  flip_on_read_ = BitFlip{path, offset, bit};
}

void FaultInjectionFileSystem::ClearFaults() {
  std::lock_guard lock(mu_);
  fail_write_at_.reset();
  fail_sync_at_.reset();
  crash_at_sync_.reset();
  fail_read_at_.reset();
  flip_on_read_.reset();
}

bool FaultInjectionFileSystem::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

std::uint64_t FaultInjectionFileSystem::write_count() const {
  std::lock_guard lock(mu_);
  return writes_;
}

std::uint64_t FaultInjectionFileSystem::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

std::uint64_t FaultInjectionFileSystem::read_count() const {
  std::lock_guard lock(mu_);
  return reads_;
}

Status FaultInjectionFileSystem::CheckMutation() const {
  if (crashed_) return Status::IOError("power lost (injected crash)");
  return Status::Ok();
}

Status FaultInjectionFileSystem::CountWrite() {
  KV_RETURN_IF_ERROR(CheckMutation());
  ++writes_;
  if (fail_write_at_ && writes_ == *fail_write_at_) {
    fail_write_at_.reset();
    return fail_write_status_;
  }
  return Status::Ok();
}

Status FaultInjectionFileSystem::CountSync() {
  ++syncs_;
  KV_RETURN_IF_ERROR(CheckMutation());
  if (crash_at_sync_ && syncs_ >= *crash_at_sync_) {
    crashed_ = true;
    return CheckMutation();
  }
  if (fail_sync_at_ && syncs_ == *fail_sync_at_) {
    fail_sync_at_.reset();
    return fail_sync_status_;
  }
  return Status::Ok();
}

Status FaultInjectionFileSystem::CountRead() {
  ++reads_;
  if (fail_read_at_ && reads_ == *fail_read_at_) {
    fail_read_at_.reset();
    return fail_read_status_;
  }
  return Status::Ok();
}

void FaultInjectionFileSystem::ApplyBitFlip(const std::string& path, std::uint64_t offset,
                                            std::span<char> buf, std::size_t n) const {
  const auto& flip = flip_on_read_;
  if (flip && flip->path == path && flip->offset >= offset && flip->offset - offset < n) {
    char& c = buf[flip->offset - offset];
    c = static_cast<char>(c ^ (1 << flip->bit));
  }
}

void FaultInjectionFileSystem::StartInPlace(Inode& inode, std::string contents) {
  KV_CHECK(!inode.in_place.has_value(), "inode is already a page file");
  const std::uint64_t durable = std::min<std::uint64_t>(inode.durable_size, contents.size());
  InPlace in_place;
  if (inode.reserved) {
    // Appended bytes past the durable ones are one unsynced write over the durable zeros.
    const std::uint64_t appended =
        std::min<std::uint64_t>(inode.reserved->appended, contents.size());
    if (appended > durable) {
      in_place.unsynced.push_back({durable, contents.substr(durable, appended - durable)});
    }
    contents = DurableReservedImage(std::move(contents), durable, inode.reserved->durable_end);
    inode.reserved.reset();
  } else {
    if (contents.size() > durable) in_place.unsynced.push_back({durable, contents.substr(durable)});
    contents.resize(durable);
  }
  in_place.durable = std::move(contents);
  inode.in_place = std::move(in_place);
}

void FaultInjectionFileSystem::SyncInPlace(InPlace& in_place) {
  for (const auto& write : in_place.unsynced) WriteAt(in_place.durable, write.offset, write.data);
  in_place.unsynced.clear();
}

// Starts tracking `path` if this object has not seen it: a file already in the wrapped file
// system is durable as it stands; a missing one is durably absent.
void FaultInjectionFileSystem::Track(const std::string& path) {
  if (live_.contains(path) || durable_.contains(path)) return;
  auto size = base_.FileSize(path);
  if (size.has_value()) {
    auto inode = std::make_shared<Inode>();
    inode->durable_size = *size;
    live_[path] = inode;
    durable_[path] = inode;
  } else {
    durable_[path] = nullptr;
  }
}

// Before `path` stops naming its inode, keeps the inode's bytes if no other live name holds them,
// so that PowerCut() can restore a durable entry that still names it.
Status FaultInjectionFileSystem::SaveBeforeUnlink(const std::string& path) {
  auto it = live_.find(path);
  if (it == live_.end()) return Status::Ok();
  const auto& inode = it->second;
  bool other_name = std::ranges::any_of(
      live_, [&](const auto& entry) { return entry.first != path && entry.second == inode; });
  if (other_name) return Status::Ok();
  KV_ASSIGN_OR_RETURN(inode->unlinked_data, ReadFileToString(base_, path));
  return Status::Ok();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewWritableFile(
    const std::string& path) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(path);
  KV_ASSIGN_OR_RETURN(auto file, base_.NewWritableFile(path));
  auto& inode = live_[path];
  if (inode == nullptr) {
    inode = std::make_shared<Inode>();
  } else {
    // The truncation counts as durable at once (see the header).
    inode->durable_size = 0;
    inode->reserved.reset();
    if (inode->in_place) inode->in_place = InPlace{};
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultWritableFile>(this, std::move(file), inode, generation_));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewAppendableFile(
    const std::string& path) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(path);
  KV_ASSIGN_OR_RETURN(auto file, base_.NewAppendableFile(path));
  auto& inode = live_[path];
  if (inode == nullptr) inode = std::make_shared<Inode>();
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultWritableFile>(this, std::move(file), inode, generation_));
}

Result<std::unique_ptr<RandomRWFile>> FaultInjectionFileSystem::NewRandomRWFile(
    const std::string& path) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(path);
  KV_ASSIGN_OR_RETURN(auto file, base_.NewRandomRWFile(path));
  auto& inode = live_[path];
  if (inode == nullptr) inode = std::make_shared<Inode>();
  if (!inode->in_place) {
    KV_ASSIGN_OR_RETURN(const std::uint64_t size, file->Size());
    std::string contents(size, '\0');
    KV_ASSIGN_OR_RETURN(const std::size_t n, file->Read(0, contents));
    contents.resize(n);
    StartInPlace(*inode, std::move(contents));
  }
  return std::unique_ptr<RandomRWFile>(
      std::make_unique<FaultRandomRWFile>(this, std::move(file), inode, path, generation_));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionFileSystem::NewRandomAccessFile(
    const std::string& path) {
  KV_ASSIGN_OR_RETURN(auto file, base_.NewRandomAccessFile(path));
  return std::unique_ptr<RandomAccessFile>(
      std::make_unique<FaultRandomAccessFile>(this, std::move(file), path));
}

Result<bool> FaultInjectionFileSystem::FileExists(const std::string& path) {
  return base_.FileExists(path);
}

Result<std::uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) {
  return base_.FileSize(path);
}

Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(from);
  Track(to);
  KV_RETURN_IF_ERROR(SaveBeforeUnlink(to));
  KV_RETURN_IF_ERROR(base_.Rename(from, to));
  auto inode = live_[from];
  live_.erase(from);
  live_[to] = inode;
  return Status::Ok();
}

Status FaultInjectionFileSystem::RemoveFile(const std::string& path) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(path);
  KV_RETURN_IF_ERROR(SaveBeforeUnlink(path));
  KV_RETURN_IF_ERROR(base_.RemoveFile(path));
  live_.erase(path);
  return Status::Ok();
}

Status FaultInjectionFileSystem::Truncate(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  Track(path);
  KV_RETURN_IF_ERROR(base_.Truncate(path, size));
  if (auto it = live_.find(path); it != live_.end()) {
    Inode& inode = *it->second;
    inode.durable_size = std::min(inode.durable_size, size);
    if (auto& r = inode.reserved) {
      r->end = std::min(r->end, size);
      r->durable_end = std::min(r->durable_end, size);
      r->appended = std::min(r->appended, size);
    }
    if (inode.in_place) {
      // The bytes past `size` are gone for good, durable or not.
      auto& [durable, unsynced] = *inode.in_place;
      if (durable.size() > size) durable.resize(size);
      std::erase_if(unsynced, [&](const PendingWrite& w) { return w.offset >= size; });
      for (auto& w : unsynced) {
        if (w.data.size() > size - w.offset) w.data.resize(size - w.offset);
      }
    }
  }
  return Status::Ok();
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& dir) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CheckMutation());
  return base_.CreateDirs(dir);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& dir) {
  return base_.ListDir(dir);
}

Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  KV_RETURN_IF_ERROR(CountSync());
  KV_RETURN_IF_ERROR(base_.SyncDir(dir));
  std::vector<std::string> paths;
  for (const auto& [path, inode] : live_) paths.push_back(path);
  for (const auto& [path, inode] : durable_) paths.push_back(path);
  for (const auto& path : paths) {
    if (DirName(path) != dir) continue;
    auto it = live_.find(path);
    durable_[path] = it == live_.end() ? nullptr : it->second;
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::LockFile(const std::string& path) {
  return base_.LockFile(path);
}

Status FaultInjectionFileSystem::PowerCut(UnsyncedData unsynced, std::uint64_t seed) {
  std::lock_guard lock(mu_);
  Random rng(seed);
  // 1. Work out what the disk holds after the cut, reading from the wrapped file system before
  //    changing anything.
  std::map<std::string, std::string> survivors;
  for (const auto& [path, inode] : durable_) {
    if (inode == nullptr) continue;
    if (inode->in_place) {
      std::string data = inode->in_place->durable;
      if (unsynced == UnsyncedData::kKeepRandomPrefix) {
        for (const auto& write : inode->in_place->unsynced) {
          std::string_view bytes = write.data;
          switch (rng.Uniform(3)) {
            case 0:  // Survives whole.
              break;
            case 1:  // Lost.
              bytes = {};
              break;
            default:  // Torn: a prefix shorter than the write survives.
              bytes = bytes.substr(0, rng.Uniform(bytes.size()));
              break;
          }
          WriteAt(data, write.offset, bytes);
        }
      }
      survivors[path] = std::move(data);
      continue;
    }
    auto live = std::ranges::find_if(live_, [&](const auto& e) { return e.second == inode; });
    std::string data;
    if (live != live_.end()) {
      KV_ASSIGN_OR_RETURN(data, ReadFileToString(base_, live->first));
    } else {
      KV_CHECK(inode->unlinked_data.has_value(), "durable inode lost its contents");
      data = *inode->unlinked_data;
    }
    // Of a file with reserved room, only the appended bytes are unsynced data; the zeros past
    // them are durable only as far as a Sync covered them.
    const std::uint64_t appended =
        inode->reserved ? std::min<std::uint64_t>(inode->reserved->appended, data.size())
                        : data.size();
    std::uint64_t keep = std::min<std::uint64_t>(inode->durable_size, appended);
    if (unsynced == UnsyncedData::kKeepRandomPrefix && appended > keep) {
      keep += rng.Uniform(appended - keep + 1);
    }
    if (inode->reserved) {
      data = DurableReservedImage(std::move(data), keep, inode->reserved->durable_end);
    } else {
      data.resize(keep);
    }
    survivors[path] = std::move(data);
  }
  // 2. Replace every file this object tracks with its durable version.
  for (const auto& [path, inode] : live_) KV_RETURN_IF_ERROR(base_.RemoveFile(path));
  live_.clear();
  durable_.clear();
  for (auto& [path, data] : survivors) {
    KV_ASSIGN_OR_RETURN(auto file, base_.NewWritableFile(path));
    KV_RETURN_IF_ERROR(file->Append(data));
    KV_RETURN_IF_ERROR(file->Sync());
    KV_RETURN_IF_ERROR(file->Close());
    auto inode = std::make_shared<Inode>();
    inode->durable_size = data.size();
    live_[path] = inode;
    durable_[path] = inode;
  }
  // 3. The processes that held handles are gone; the new boot starts without faults.
  ++generation_;
  crashed_ = false;
  fail_write_at_.reset();
  fail_sync_at_.reset();
  crash_at_sync_.reset();
  fail_read_at_.reset();
  flip_on_read_.reset();
  return Status::Ok();
}

}  // namespace kv
