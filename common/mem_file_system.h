// MemFileSystem: a FileSystem held entirely in memory, for fast deterministic tests.
//
// It behaves like a POSIX file system that never loses power: Sync() and SyncDir() succeed and
// do nothing. An open WritableFile or RandomRWFile keeps writing to the same file even if it is
// renamed or removed, as with an inode; both write through, so every other handle sees the bytes
// at once. Directories must be created (CreateDirs) before files in them.
// NewMappedFile() "maps" a file by copying its bytes at open (so mapped() is always available, and
// tests can run the mapped read path without a disk).
// Wrap it in FaultInjectionFileSystem to model power loss and I/O errors.
//
// Thread safety: safe to share between threads.
#pragma once

#include <memory>

#include "common/file_system.h"

namespace kv {

std::unique_ptr<FileSystem> NewMemFileSystem();

}  // namespace kv
