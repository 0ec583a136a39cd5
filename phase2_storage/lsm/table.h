// Table: reads one SSTable written by TableBuilder (docs/formats/sstable.md).
//
// Open reads the footer, then the index block and the filter block, and keeps copies of both in
// memory for the table's lifetime; data blocks are read from the file when a lookup or an
// iterator needs them. Every block's checksum is verified when it is read, so a damaged byte
// anywhere gives kCorruption naming the file and the block's offset — at Open for the footer,
// index and filter, at the read that touches it for a data block — and never a wrong answer.
//
// Two ways to read a data block, chosen by the file handle:
//   * the file is mapped (FileSystem::NewMappedFile; the real disk): the block is a view into
//     the mapping, no system call, no copy, no allocation; its checksum is verified every time
//     the block is used, and such blocks do not go into the block cache (the page cache holds
//     them, as it does for LevelDB, which maps its tables the same way);
//   * otherwise: pread into a heap buffer, verify, and keep the block in the block cache.
//
// Thread safety: a Table is immutable after Open; Get and NewIterator may be called from many
// threads at once. Each iterator is used by one thread and must not outlive its Table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "phase2_storage/lsm/block.h"
#include "phase2_storage/lsm/block_cache.h"
#include "phase2_storage/lsm/internal_key.h"
#include "phase2_storage/lsm/table_format.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

// What a table holds for a looked-up key: its newest version at or before the lookup's sequence.
struct TableEntry {
  EntryKind kind = EntryKind::kValue;
  SequenceNumber sequence = 0;
  std::string value;  // Empty for a tombstone.
};

class Table {
 public:
  // `file_size` comes from the manifest (or the file system) and locates the footer. With a
  // `cache`, data blocks are looked up there first (keyed by `file_number`) and kept there.
  // `blocks_read`, if given, counts every data block read from the file (a view into the
  // mapping, or a read that missed the cache): the engine's measure of read amplification.
  static Result<std::unique_ptr<Table>> Open(std::unique_ptr<RandomAccessFile> file,
                                             std::string path, std::uint64_t file_size,
                                             BlockCache* cache = nullptr,
                                             std::uint64_t file_number = 0,
                                             std::atomic<std::uint64_t>* blocks_read = nullptr);

  // The newest entry of `lookup.user_key()` with sequence <= the lookup's sequence, or nullopt
  // if the table has none (the bloom filter answers most of those without reading a block).
  Result<std::optional<TableEntry>> Get(const LookupKey& lookup) const;

  // An iterator over the table's internal keys and values. Errors surface in its status().
  // `fill_cache` false: blocks it reads are not added to the cache (a compaction or a full
  // scan reads each block once and would only push hot blocks out).
  std::unique_ptr<Iterator> NewIterator(bool fill_cache = true) const;

  // False only if the table certainly holds no version of `user_key`.
  bool MayContain(std::string_view user_key) const;

  std::uint64_t entries() const { return footer_.entries; }
  std::uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return file_->path; }
  // True if data blocks are read from a mapping of the file (see the top of this file).
  bool mapped() const { return file_->is_mapped; }
  // Bytes this table keeps in memory (index and filter), for the engine's accounting.
  std::size_t MemoryUsage() const { return index_->size() + filter_.size(); }

  // The table's file and its name, shared with the blocks read into memory from it: a cached
  // block names the file in its errors, so it keeps this alive after the table cache has dropped
  // the table. (Views into a mapping are held only by iterators, which do not outlive the table.)
  struct File {
    std::unique_ptr<RandomAccessFile> handle;
    std::string path;
    bool is_mapped = false;  // handle->mapped() holds the whole file.
  };

 private:
  friend class TableIterator;
  Table(std::shared_ptr<const File> file, std::uint64_t file_size, Footer footer,
        std::shared_ptr<const Block> index, std::string filter, BlockCache* cache,
        std::uint64_t file_number, std::atomic<std::uint64_t>* blocks_read)
      : file_(std::move(file)),
        file_size_(file_size),
        cache_(cache),
        blocks_read_(blocks_read),
        file_number_(file_number),
        footer_(footer),
        data_end_(footer_.filter.size > 0 ? footer_.filter.offset : footer_.index.offset),
        index_(std::move(index)),
        filter_(std::move(filter)) {}

  // The data block at `handle` read with pread, through the cache if there is one.
  // REQUIRES: the file is not mapped.
  Result<std::shared_ptr<const Block>> ReadDataBlock(const BlockHandle& handle,
                                                     bool fill_cache) const;

  const std::shared_ptr<const File> file_;
  const std::uint64_t file_size_;
  BlockCache* const cache_;                        // May be null.
  std::atomic<std::uint64_t>* const blocks_read_;  // May be null.
  const std::uint64_t file_number_;
  const Footer footer_;
  const std::uint64_t data_end_;  // Where the data blocks end (the filter or index begins).
  const std::shared_ptr<const Block> index_;
  const std::string filter_;  // Empty: no filter, every key "may" be present.
};

}  // namespace kv::storage::lsm
