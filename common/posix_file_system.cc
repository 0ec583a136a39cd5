#include "common/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace kv {
namespace {

Status Errno(std::string_view op, const std::string& path) {
  return Status::FromErrno(errno, fmt::format("{} {}", op, path));
}

// Reads up to buf.size() bytes of `fd` at `offset`, retrying after signals and short reads;
// fewer only at the end of the file. `path` names the file in an error.
Result<std::size_t> PreadFull(int fd, const std::string& path, std::uint64_t offset,
                              std::span<char> buf) {
  std::size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("pread", path);
    }
    if (n == 0) break;  // End of file.
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// The size of the open file `fd`, named `path` in an error.
Result<std::uint64_t> FdSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("fstat", path);
  return static_cast<std::uint64_t>(st.st_size);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, std::uint64_t size, bool appending)
      : path_(std::move(path)), fd_(fd), size_(size), end_(size), appending_(appending) {
    buffer_.reserve(kBufferSize);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) (void)Close();
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError(fmt::format("append to closed file {}", path_));
    size_ += data.size();
    if (buffer_.size() + data.size() <= kBufferSize) {
      buffer_.append(data);
      return Status::Ok();
    }
    KV_RETURN_IF_ERROR(Flush());
    if (data.size() <= kBufferSize) {
      buffer_.append(data);
      return Status::Ok();
    }
    return WriteAll(data);
  }

  Status Flush() override {
    if (fd_ < 0) return Status::IOError(fmt::format("flush of closed file {}", path_));
    Status s = WriteAll(buffer_);
    buffer_.clear();
    return s;
  }

  Status Sync() override {
    KV_RETURN_IF_ERROR(Flush());
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    Status s = Flush();
    if (::close(fd_) != 0 && s.ok()) s = Errno("close", path_);
    fd_ = -1;
    return s;
  }

  std::uint64_t Size() const override { return size_; }

  Status Reserve(std::uint64_t bytes) override {
    if (fd_ < 0) return Status::IOError(fmt::format("reserve in closed file {}", path_));
    if (appending_) {
      return Status::NotSupported(fmt::format("reserve in {}, opened for appending", path_));
    }
    // The zeros go after everything written so far; the file offset, where the next write()
    // lands, stays at the end of the appended bytes.
    KV_RETURN_IF_ERROR(Flush());
    end_ = std::max(end_, size_);
    static const std::string kZeros(64 * 1024, '\0');
    while (bytes > 0) {
      const std::size_t n = std::min<std::uint64_t>(bytes, kZeros.size());
      ssize_t done = ::pwrite(fd_, kZeros.data(), n, static_cast<off_t>(end_));
      if (done < 0) {
        if (errno == EINTR) continue;
        return Errno("pwrite", path_);
      }
      end_ += static_cast<std::uint64_t>(done);
      bytes -= static_cast<std::uint64_t>(done);
    }
    return Status::Ok();
  }

 private:
  static constexpr std::size_t kBufferSize = 64 * 1024;

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write", path_);
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return Status::Ok();
  }

  std::string path_;
  int fd_;
  std::uint64_t size_;
  std::uint64_t end_;  // Where the file ends: appended bytes and zeros reserved past them.
  bool appending_;     // Opened with O_APPEND: every write lands at the end.
  std::string buffer_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    return PreadFull(fd_, path_, offset, buf);
  }

  Result<std::uint64_t> Size() const override { return FdSize(fd_, path_); }

 private:
  std::string path_;
  int fd_;
};

// A file open for reading and writing in place. pread/pwrite take their offset as an argument
// and leave the descriptor's own offset alone, so calls from many threads do not interfere.
class PosixRandomRWFile final : public RandomRWFile {
 public:
  PosixRandomRWFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomRWFile() override {
    if (fd_ >= 0) (void)Close();
    if (map_base_ != nullptr) ::munmap(map_base_, map_length_);
  }

  // Maps `length` bytes of address space over the file, whatever its size now: pages below the
  // end of the file hold its bytes (the page cache's, so a pwrite shows at once in the mapping
  // and a store into the mapping in a pread), and the range stays valid as the file grows into
  // it. One mapping, readable and writable, serves both calls. fdatasync writes the pages that
  // stores into it dirtied, as it does those of pwrite (Linux keeps one page cache for both).
  std::optional<std::string_view> MapForReading(std::uint64_t length) override {
    std::optional<std::span<char>> map = Map(length);
    if (!map.has_value()) return std::nullopt;
    return std::string_view(map->data(), map->size());
  }
  std::optional<std::span<char>> MapForWriting(std::uint64_t length) override {
    return Map(length);
  }

  Status Allocate(std::uint64_t offset, std::uint64_t length) override {
    if (fd_ < 0) return Status::IOError(fmt::format("allocate in closed file {}", path_));
    if (length == 0) return Status::Ok();
    // posix_fallocate returns the error instead of setting errno.
    int rc;
    while ((rc = ::posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(length))) ==
           EINTR) {
    }
    if (rc != 0) {
      errno = rc;
      return Errno("posix_fallocate", path_);  // ENOSPC becomes kNoSpace.
    }
    return Status::Ok();
  }

  Status Write(std::uint64_t offset, std::string_view data) override {
    if (fd_ < 0) return Status::IOError(fmt::format("write to closed file {}", path_));
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("pwrite", path_);  // ENOSPC becomes kNoSpace.
      }
      if (n == 0) return Status::IOError(fmt::format("pwrite {}: wrote nothing", path_));
      done += static_cast<std::size_t>(n);  // A short write: write the rest.
    }
    return Status::Ok();
  }

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    if (fd_ < 0) return Status::IOError(fmt::format("read of closed file {}", path_));
    return PreadFull(fd_, path_, offset, buf);
  }

  Status Sync() override {
    if (fd_ < 0) return Status::IOError(fmt::format("sync of closed file {}", path_));
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return Status::Ok();
  }

  Result<std::uint64_t> Size() const override {
    if (fd_ < 0) return Status::IOError(fmt::format("size of closed file {}", path_));
    return FdSize(fd_, path_);
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    Status s;
    if (::close(fd_) != 0) s = Errno("close", path_);
    fd_ = -1;
    return s;
  }

 private:
  std::optional<std::span<char>> Map(std::uint64_t length) {
    std::lock_guard lock(map_mu_);
    if (map_base_ == nullptr) {
      if (fd_ < 0 || length == 0 || sizeof(void*) < 8) return std::nullopt;
      void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      if (base == MAP_FAILED) return std::nullopt;
      map_base_ = base;
      map_length_ = length;
    }
    return std::span<char>(static_cast<char*>(map_base_), map_length_);
  }

  std::string path_;
  int fd_;  // -1 once closed.
  std::mutex map_mu_;
  void* map_base_ = nullptr;  // GUARDED_BY(map_mu_) until set; unmapped by the destructor.
  std::uint64_t map_length_ = 0;
};

// A file mapped read-only into memory (NewMappedFile). The descriptor is closed once the mapping
// exists: the mapping keeps the file alive, even after it is unlinked.
class PosixMappedFile final : public RandomAccessFile {
 public:
  // Takes over `base`, a mapping of `size` bytes, and one slot of `slots`, given back on close.
  PosixMappedFile(const char* base, std::size_t size, std::shared_ptr<std::atomic<int>> slots)
      : base_(base), size_(size), slots_(std::move(slots)) {}
  ~PosixMappedFile() override {
    ::munmap(const_cast<char*>(base_), size_);
    slots_->fetch_add(1, std::memory_order_relaxed);
  }

  Result<std::size_t> Read(std::uint64_t offset, std::span<char> buf) const override {
    if (buf.empty() || offset >= size_) return std::size_t{0};
    const std::size_t n = std::min<std::uint64_t>(buf.size(), size_ - offset);
    std::memcpy(buf.data(), base_ + offset, n);
    return n;
  }
  Result<std::uint64_t> Size() const override { return std::uint64_t{size_}; }
  std::optional<std::string_view> mapped() const override { return std::string_view(base_, size_); }

 private:
  const char* const base_;
  const std::size_t size_;
  std::shared_ptr<std::atomic<int>> slots_;
};

// Paths locked by this process. fcntl locks are per process, so without this a second
// LockFile() from the same process would succeed.
std::mutex& LockedMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& LockedPaths() {
  static std::set<std::string> paths;
  return paths;
}

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFileLock() override {
    ::close(fd_);  // Releases the fcntl lock.
    std::lock_guard lock(LockedMutex());
    LockedPaths().erase(path_);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", path);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd, 0, false));
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", path);
    KV_ASSIGN_OR_RETURN(std::uint64_t size, SizeOrClose(fd, path));
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd, size, true));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path);
    return std::unique_ptr<RandomAccessFile>(std::make_unique<PosixRandomAccessFile>(path, fd));
  }

  Result<std::unique_ptr<RandomRWFile>> NewRandomRWFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", path);
    return std::unique_ptr<RandomRWFile>(std::make_unique<PosixRandomRWFile>(path, fd));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewMappedFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path);
    KV_ASSIGN_OR_RETURN(const std::uint64_t file_size, SizeOrClose(fd, path));
    const auto size = static_cast<std::size_t>(file_size);
    // An empty file cannot be mapped; past the limit, or if mmap fails (address space, the
    // kernel's limit on mappings), the file is read with pread instead.
    if (size > 0 && mapping_slots_->fetch_sub(1, std::memory_order_relaxed) > 0) {
      void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (base != MAP_FAILED) {
        ::close(fd);
        return std::unique_ptr<RandomAccessFile>(std::make_unique<PosixMappedFile>(
            static_cast<const char*>(base), size, mapping_slots_));
      }
    }
    if (size > 0) mapping_slots_->fetch_add(1, std::memory_order_relaxed);
    return std::unique_ptr<RandomAccessFile>(std::make_unique<PosixRandomAccessFile>(path, fd));
  }

  Result<bool> FileExists(const std::string& path) override {
    if (::access(path.c_str(), F_OK) == 0) return true;
    if (errno == ENOENT) return false;
    return Errno("access", path);
  }

  Result<std::uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Errno("stat", path);
    return static_cast<std::uint64_t>(st.st_size);
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from + " -> " + to);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("unlink", path);
    return Status::Ok();
  }

  Status Truncate(const std::string& path, std::uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) return Errno("truncate", path);
    return Status::Ok();
  }

  Status CreateDirs(const std::string& dir) override {
    if (dir.empty() || dir == "." || dir == "/") return Status::Ok();
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Ok();
      return Status::InvalidArgument(fmt::format("{} exists and is not a directory", dir));
    }
    KV_RETURN_IF_ERROR(CreateDirs(DirName(dir)));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", dir);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("opendir", dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (::stat(JoinPath(dir, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
      names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open directory", dir);
    Status s;
    if (::fsync(fd) != 0) s = Errno("fsync directory", dir);
    ::close(fd);
    return s;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    {
      std::lock_guard lock(LockedMutex());
      if (!LockedPaths().insert(path).second) {
        return Status::Busy(fmt::format("lock {} is already held by this process", path));
      }
    }
    auto unregister = [&] {
      std::lock_guard lock(LockedMutex());
      LockedPaths().erase(path);
    };
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      Status s = Errno("open lock file", path);
      unregister();
      return s;
    }
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &fl) != 0) {
      Status s = (errno == EACCES || errno == EAGAIN)
                     ? Status::Busy(fmt::format("lock {} is held by another process", path))
                     : Errno("lock", path);
      ::close(fd);
      unregister();
      return s;
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(path, fd));
  }

 private:
  // The size of the open file `fd`; on failure, closes it and names `path` in the error.
  static Result<std::uint64_t> SizeOrClose(int fd, const std::string& path) {
    Result<std::uint64_t> size = FdSize(fd, path);
    if (!size.has_value()) ::close(fd);
    return size;
  }

  // At most this many files mapped at once (LevelDB's limit on 64-bit hosts); none on 32-bit
  // hosts, where address space is scarce. Shared with the mapped files, which give their slot
  // back when they close, even after this object is gone.
  static constexpr int kMaxMappings = sizeof(void*) >= 8 ? 1000 : 0;
  std::shared_ptr<std::atomic<int>> mapping_slots_ =
      std::make_shared<std::atomic<int>>(kMaxMappings);
};

}  // namespace

std::unique_ptr<FileSystem> NewPosixFileSystem() { return std::make_unique<PosixFileSystem>(); }

}  // namespace kv
