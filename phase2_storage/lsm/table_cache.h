// TableCache: the open Table objects of an LSM tree, by file number.
//
// Opening a table reads its footer, index and filter, so each table is opened once and shared
// by every reader until compaction deletes it (Evict). Tables are opened lazily, on the first
// read that needs them, with FileSystem::NewMappedFile (table.h says what a mapping changes).
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "common/file_system.h"
#include "phase2_storage/lsm/block_cache.h"
#include "phase2_storage/lsm/table.h"
#include "phase2_storage/lsm/version_edit.h"

namespace kv::storage::lsm {

class TableCache {
 public:
  // `block_cache` may be null; it must outlive the cache. `blocks_read` (may be null) counts the
  // data blocks its tables read (Table::Open).
  TableCache(FileSystem& fs, std::string dir, BlockCache* block_cache,
             std::atomic<std::uint64_t>* blocks_read = nullptr)
      : fs_(fs), dir_(std::move(dir)), block_cache_(block_cache), blocks_read_(blocks_read) {}

  // The open table for `file`, opening it if needed. Errors name the file.
  Result<std::shared_ptr<const Table>> Find(const FileMeta& file);
  // Forgets a table (its file is being deleted) and drops its cached blocks.
  void Evict(std::uint64_t file_number);

 private:
  FileSystem& fs_;
  const std::string dir_;
  BlockCache* const block_cache_;
  std::atomic<std::uint64_t>* const blocks_read_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<const Table>> tables_;  // GUARDED_BY(mu_)
};

// An iterator over the internal keys of a sorted, disjoint run of tables (one level >= 1): it
// opens each table only when the iteration reaches it, so a scan of a level with hundreds of
// files holds one of them open at a time. `files` is not copied (a seek builds one of these per
// level, and copying hundreds of shared pointers each time showed in the profile): `owner`, the
// version holding them, keeps them alive for the iterator's lifetime.
std::unique_ptr<Iterator> NewLevelIterator(TableCache& cache, std::shared_ptr<const void> owner,
                                           std::span<const std::shared_ptr<const FileMeta>> files,
                                           bool fill_cache);

}  // namespace kv::storage::lsm
