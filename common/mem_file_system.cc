#include "common/mem_file_system.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace kv {
namespace {

// The contents of one file (an "inode"), shared by the directory entry and open handles.
struct MemFile {
  mutable std::mutex mu;
  std::string data;
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::shared_ptr<MemFile> file, bool appending)
      : file_(std::move(file)), appending_(appending) {}

  Status Append(std::string_view data) override {
    if (closed_) return Status::IOError("append to closed file");
    std::lock_guard lock(file_->mu);
    if (!reserved_) {
      file_->data.append(data);
      return Status::Ok();
    }
    // After Reserve() the bytes overwrite the zeros in place, as on a real file.
    if (file_->data.size() < size_ + data.size()) file_->data.resize(size_ + data.size());
    file_->data.replace(size_, data.size(), data);
    size_ += data.size();
    return Status::Ok();
  }
  Status Flush() override { return closed_ ? Status::IOError("flush of closed file") : Status(); }
  Status Sync() override { return closed_ ? Status::IOError("sync of closed file") : Status(); }
  Status Close() override {
    closed_ = true;
    return Status::Ok();
  }
  std::uint64_t Size() const override {
    std::lock_guard lock(file_->mu);
    return reserved_ ? size_ : file_->data.size();
  }
  Status Reserve(std::uint64_t bytes) override {
    if (closed_) return Status::IOError("reserve in closed file");
    if (appending_) return Status::NotSupported("reserve in a file opened for appending");
    std::lock_guard lock(file_->mu);
    if (!reserved_) size_ = file_->data.size();
    reserved_ = true;
    file_->data.append(bytes, '\0');
    return Status::Ok();
  }

 private:
  std::shared_ptr<MemFile> file_;
  bool appending_;
  bool closed_ = false;
  bool reserved_ = false;   // Reserve() was called: appends go to size_, not to the end.
  std::uint64_t size_ = 0;  // Bytes appended, once reserved_.
};

class MemRandomAccessFile final : public RandomAccessFile {
 public:
  explicit MemRandomAccessFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    std::lock_guard lock(file_->mu);
    // An empty buffer may have a null data(), which memcpy must not see even with n = 0.
    if (buf.empty() || offset >= file_->data.size()) return std::size_t{0};
    std::size_t n = std::min<std::uint64_t>(buf.size(), file_->data.size() - offset);
    std::memcpy(buf.data(), file_->data.data() + offset, n);
    return n;
  }
  Result<std::uint64_t> Size() const override {
    std::lock_guard lock(file_->mu);
    return static_cast<std::uint64_t>(file_->data.size());
  }

 private:
  std::shared_ptr<MemFile> file_;
};

// A handle that reads and writes the shared bytes in place; each call holds the file's mutex, so
// calls from many threads are safe and every write reaches the file at once.
class MemRandomRWFile final : public RandomRWFile {
 public:
  explicit MemRandomRWFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}

  Status Write(std::uint64_t offset, std::string_view data) override {
    if (closed_) return Status::IOError("write to closed file");
    if (data.empty()) return Status::Ok();
    std::lock_guard lock(file_->mu);
    if (offset > file_->data.max_size() - data.size()) {
      return Status::InvalidArgument(fmt::format("write at offset {} is too far", offset));
    }
    // Invariant: a gap between the old end and `offset` reads as zeros.
    if (file_->data.size() < offset + data.size()) file_->data.resize(offset + data.size(), '\0');
    std::memcpy(file_->data.data() + offset, data.data(), data.size());
    return Status::Ok();
  }
  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    if (closed_) return Status::IOError("read of closed file");
    std::lock_guard lock(file_->mu);
    if (buf.empty() || offset >= file_->data.size()) return std::size_t{0};
    std::size_t n = std::min<std::uint64_t>(buf.size(), file_->data.size() - offset);
    std::memcpy(buf.data(), file_->data.data() + offset, n);
    return n;
  }
  Status Sync() override { return closed_ ? Status::IOError("sync of closed file") : Status(); }
  Result<std::uint64_t> Size() const override {
    if (closed_) return Status::IOError("size of closed file");
    std::lock_guard lock(file_->mu);
    return static_cast<std::uint64_t>(file_->data.size());
  }
  Status Close() override {
    closed_ = true;
    return Status::Ok();
  }

 private:
  std::shared_ptr<MemFile> file_;
  bool closed_ = false;  // Close() runs alone (file_system.h), so the other calls only read it.
};

// What NewMappedFile returns: a copy of the file's bytes taken at open, which no later write can
// move or change (as a mapping of a file nobody writes behaves).
class MemMappedFile final : public RandomAccessFile {
 public:
  explicit MemMappedFile(std::string data) : data_(std::move(data)) {}

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    if (buf.empty() || offset >= data_.size()) return std::size_t{0};
    std::size_t n = std::min<std::uint64_t>(buf.size(), data_.size() - offset);
    std::memcpy(buf.data(), data_.data() + offset, n);
    return n;
  }
  Result<std::uint64_t> Size() const override { return std::uint64_t{data_.size()}; }
  std::optional<std::string_view> mapped() const override { return std::string_view(data_); }

 private:
  const std::string data_;
};

class MemFileSystem;

class MemFileLock final : public FileLock {
 public:
  MemFileLock(MemFileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  ~MemFileLock() override;

 private:
  MemFileSystem* fs_;  // Not owned; the file system outlives its locks.
  std::string path_;
};

class MemFileSystem final : public FileSystem {
 public:
  MemFileSystem() {
    dirs_.insert(".");
    dirs_.insert("/");
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_RETURN_IF_ERROR(CheckParent(path));
    auto& file = files_[path];
    if (file == nullptr) {
      file = std::make_shared<MemFile>();
    } else {
      std::lock_guard file_lock(file->mu);
      file->data.clear();
    }
    return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(file, false));
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_RETURN_IF_ERROR(CheckParent(path));
    auto& file = files_[path];
    if (file == nullptr) file = std::make_shared<MemFile>();
    return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(file, true));
  }

  Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_RETURN_IF_ERROR(CheckParent(path));
    auto& file = files_[path];
    if (file == nullptr) file = std::make_shared<MemFile>();
    return std::unique_ptr<RandomRWFile>(std::make_unique<MemRandomRWFile>(file));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_ASSIGN_OR_RETURN(auto file, Find(path));
    return std::unique_ptr<RandomAccessFile>(std::make_unique<MemRandomAccessFile>(file));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewMappedFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_ASSIGN_OR_RETURN(auto file, Find(path));
    std::lock_guard file_lock(file->mu);
    return std::unique_ptr<RandomAccessFile>(std::make_unique<MemMappedFile>(file->data));
  }

  Result<bool> FileExists(const std::string& path) override {
    std::lock_guard lock(mu_);
    return files_.contains(path);
  }

  Result<std::uint64_t> FileSize(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_ASSIGN_OR_RETURN(auto file, Find(path));
    std::lock_guard file_lock(file->mu);
    return static_cast<std::uint64_t>(file->data.size());
  }

  Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    KV_ASSIGN_OR_RETURN(auto file, Find(from));
    KV_RETURN_IF_ERROR(CheckParent(to));
    files_.erase(from);
    files_[to] = std::move(file);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    if (files_.erase(path) == 0) return Status::NotFound(fmt::format("remove {}", path));
    return Status::Ok();
  }

  Status Truncate(const std::string& path, std::uint64_t size) override {
    std::lock_guard lock(mu_);
    KV_ASSIGN_OR_RETURN(auto file, Find(path));
    std::lock_guard file_lock(file->mu);
    if (size > file->data.size()) {
      return Status::InvalidArgument(fmt::format("truncate {} to {} would extend it", path, size));
    }
    file->data.resize(size);
    return Status::Ok();
  }

  Status CreateDirs(const std::string& dir) override {
    std::lock_guard lock(mu_);
    for (std::string d = dir; !dirs_.contains(d); d = DirName(d)) {
      if (files_.contains(d)) {
        return Status::InvalidArgument(fmt::format("{} exists and is not a directory", d));
      }
      dirs_.insert(d);
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    if (!dirs_.contains(dir)) return Status::NotFound(fmt::format("opendir {}", dir));
    std::vector<std::string> names;
    for (const auto& [path, file] : files_) {
      if (DirName(path) == dir) names.push_back(BaseName(path));
    }
    return names;
  }

  Status SyncDir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    if (!dirs_.contains(dir)) return Status::NotFound(fmt::format("open directory {}", dir));
    return Status::Ok();
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    KV_RETURN_IF_ERROR(CheckParent(path));
    if (!locks_.insert(path).second) {
      return Status::Busy(fmt::format("lock {} is already held", path));
    }
    if (!files_.contains(path)) files_[path] = std::make_shared<MemFile>();
    return std::unique_ptr<FileLock>(std::make_unique<MemFileLock>(this, path));
  }

  void Unlock(const std::string& path) {
    std::lock_guard lock(mu_);
    locks_.erase(path);
  }

 private:
  Status CheckParent(const std::string& path) const {
    if (!dirs_.contains(DirName(path))) {
      return Status::NotFound(fmt::format("{}: directory {} does not exist", path, DirName(path)));
    }
    return Status::Ok();
  }

  Result<std::shared_ptr<MemFile>> Find(const std::string& path) const {
    auto it = files_.find(path);
    if (it == files_.end()) return Status::NotFound(fmt::format("{}: no such file", path));
    return it->second;
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemFile>> files_;  // GUARDED_BY(mu_)
  std::set<std::string> dirs_;                             // GUARDED_BY(mu_)
  std::set<std::string> locks_;                            // GUARDED_BY(mu_)
};

MemFileLock::~MemFileLock() { fs_->Unlock(path_); }

}  // namespace

std::unique_ptr<FileSystem> NewMemFileSystem() { return std::make_unique<MemFileSystem>(); }

}  // namespace kv
