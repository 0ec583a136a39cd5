// PosixFileSystem: the FileSystem seam over the real disk (open/pwrite/fdatasync/rename/...).
//
// WritableFile keeps a 64 KiB user-space buffer; Sync() is write + fdatasync, SyncDir() is
// fsync on the directory. RandomRWFile writes and reads with pwrite/pread (no buffer) and syncs
// with fdatasync. LockFile() uses fcntl(F_SETLK) plus an in-process registry, because
// POSIX record locks do not exclude two opens from the same process. NewMappedFile() maps the
// file read-only (mmap, MAP_SHARED) and closes its descriptor; at most 1000 files are mapped at
// once, later ones are read with pread.
//
// Thread safety: safe to share between threads.
#pragma once

#include <memory>

#include "common/file_system.h"

namespace kv {

std::unique_ptr<FileSystem> NewPosixFileSystem();

}  // namespace kv
