#include "phase2_storage/lsm/table.h"

#include <fmt/format.h>

#include "phase2_storage/lsm/bloom.h"

namespace kv::storage::lsm {
namespace {

// The index entry's value is a block handle; a bad one is corruption of the index block.
Result<BlockHandle> IndexHandle(std::string_view value, const std::string& path,
                                const BlockHandle& index_block, std::uint64_t data_end) {
  auto handle = DecodeBlockHandle(value);
  // Written without sums so that huge values cannot wrap around and pass.
  if (!handle || handle->offset > data_end || handle->size > data_end - handle->offset ||
      data_end - handle->offset - handle->size < kBlockTrailerSize) {
    return Status::Corruption(fmt::format("{}: index block at offset {} holds a bad block handle",
                                          path, index_block.offset));
  }
  return *handle;
}

}  // namespace

// Index + data blocks: walks the index, and within each indexed data block its entries. Both
// cursors live inside the iterator, so positioning it allocates nothing on a mapped table; Get
// uses one on the stack.
class TableIterator final : public Iterator {
 public:
  TableIterator(const Table& table, bool fill_cache)
      : table_(table),
        fill_cache_(fill_cache),
        index_(CompareInternalKeys, kTrailerSize),
        data_(CompareInternalKeys, kTrailerSize) {
    index_.Reset(table_.index_->view(), &table_.index_->location());
  }

  bool Valid() const override { return loaded_ && data_.Valid(); }
  std::string_view key() const override { return data_.key(); }
  std::string_view value() const override { return data_.value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    if (!index_.status().ok()) return index_.status();
    if (loaded_) return data_.status();
    return Status::Ok();
  }

  void SeekToFirst() override {
    index_.SeekToFirst();
    LoadBlock();
    if (loaded_) data_.SeekToFirst();
    SkipEmptyBlocks();
  }
  void Seek(std::string_view target) override {
    index_.Seek(target);
    LoadBlock();
    if (loaded_) data_.Seek(target);
    SkipEmptyBlocks();
  }
  void Next() override {
    data_.Next();
    SkipEmptyBlocks();
  }

 private:
  // Points data_ at the block the index cursor is on (nothing past the last one or on error).
  void LoadBlock() {
    loaded_ = false;
    block_.reset();
    if (!index_.Valid() || !status_.ok()) return;
    const Table::File& file = *table_.file_;
    auto handle = IndexHandle(index_.value(), file.path, table_.footer_.index, table_.data_end_);
    if (!handle) {
      status_ = handle.error();
      return;
    }
    if (file.is_mapped) {
      // A view into the mapping, verified now; the table (and so the mapping) outlives us.
      std::string unused;
      auto contents = ReadBlock(*file.handle, file.path, *handle, unused);
      if (!contents) {
        status_ = contents.error();
        return;
      }
      if (table_.blocks_read_ != nullptr)
        table_.blocks_read_->fetch_add(1, std::memory_order_relaxed);
      where_ = BlockLocation{&file.path, "data", handle->offset};
      auto view = BlockView::Parse(*contents, where_);
      if (!view) {
        status_ = view.error();
        return;
      }
      data_.Reset(*view, &where_);
    } else {
      auto block = table_.ReadDataBlock(*handle, fill_cache_);
      if (!block) {
        status_ = block.error();
        return;
      }
      block_ = std::move(*block);
      data_.Reset(block_->view(), &block_->location());
    }
    loaded_ = true;
  }
  // While the current block is exhausted (and healthy), moves on to the next one.
  void SkipEmptyBlocks() {
    while (loaded_ && !data_.Valid() && data_.status().ok()) {
      index_.Next();
      LoadBlock();
      if (loaded_) data_.SeekToFirst();
    }
  }

  const Table& table_;
  const bool fill_cache_;
  BlockCursor index_;
  BlockCursor data_;
  bool loaded_ = false;                 // data_ is on a block.
  std::shared_ptr<const Block> block_;  // That block, if it was read into memory (not mapped).
  BlockLocation where_;                 // That block's location, if it is mapped.
  Status status_;
};

Result<std::unique_ptr<Table>> Table::Open(std::unique_ptr<RandomAccessFile> file, std::string path,
                                           std::uint64_t file_size, BlockCache* cache,
                                           std::uint64_t file_number,
                                           std::atomic<std::uint64_t>* blocks_read) {
  if (file_size < kFooterSize) {
    return Status::Corruption(fmt::format(
        "{}: {} bytes is too short for an SSTable (its footer alone is 56)", path, file_size));
  }
  const std::uint64_t footer_offset = file_size - kFooterSize;
  std::string footer_bytes(kFooterSize, '\0');
  KV_ASSIGN_OR_RETURN(std::size_t n, file->Read(footer_offset, footer_bytes));
  footer_bytes.resize(n);
  KV_ASSIGN_OR_RETURN(Footer footer, DecodeFooter(footer_bytes, path, footer_offset));
  auto beyond = [&](const BlockHandle& h) {
    return h.offset > footer_offset || h.size > footer_offset - h.offset ||
           footer_offset - h.offset - h.size < kBlockTrailerSize;
  };
  if (beyond(footer.index) || (footer.filter.size > 0 && beyond(footer.filter))) {
    return Status::Corruption(fmt::format(
        "{}: the footer at offset {} points past the end of the table", path, footer_offset));
  }
  auto shared = std::make_shared<File>();
  shared->path = std::move(path);
  shared->is_mapped = file->mapped().has_value();
  shared->handle = std::move(file);
  const std::string& p = shared->path;
  // The index and the filter are copied out of a mapping: they are used by every read for the
  // table's whole life, so they are verified once and kept in memory that nothing can change.
  KV_ASSIGN_OR_RETURN(std::string index_bytes, ReadBlock(*shared->handle, p, footer.index));
  KV_ASSIGN_OR_RETURN(
      std::shared_ptr<const Block> index,
      Block::Parse(std::move(index_bytes),
                   BlockLocation{&shared->path, "index", footer.index.offset}, shared));
  std::string filter;
  if (footer.filter.size > 0) {
    KV_ASSIGN_OR_RETURN(filter, ReadBlock(*shared->handle, p, footer.filter));
  }
  return std::unique_ptr<Table>(new Table(std::move(shared), file_size, footer, std::move(index),
                                          std::move(filter), cache, file_number, blocks_read));
}

Result<std::shared_ptr<const Block>> Table::ReadDataBlock(const BlockHandle& handle,
                                                          bool fill_cache) const {
  if (cache_ != nullptr) {
    if (auto block = cache_->Lookup(file_number_, handle.offset)) return block;
  }
  KV_ASSIGN_OR_RETURN(std::string contents, ReadBlock(*file_->handle, file_->path, handle));
  if (blocks_read_ != nullptr) blocks_read_->fetch_add(1, std::memory_order_relaxed);
  KV_ASSIGN_OR_RETURN(
      std::shared_ptr<const Block> block,
      Block::Parse(std::move(contents), BlockLocation{&file_->path, "data", handle.offset}, file_));
  if (cache_ != nullptr && fill_cache) cache_->Insert(file_number_, handle.offset, block);
  return block;
}

bool Table::MayContain(std::string_view user_key) const {
  return filter_.empty() || BloomMayContain(filter_, user_key);
}

Result<std::optional<TableEntry>> Table::Get(const LookupKey& lookup) const {
  if (!MayContain(lookup.user_key())) return std::nullopt;
  TableIterator it(*this, /*fill_cache=*/true);
  it.Seek(lookup.internal_key());
  if (!it.Valid()) {
    KV_RETURN_IF_ERROR(it.status());
    return std::nullopt;
  }
  auto parsed = ParseInternalKey(it.key());
  if (!parsed) {
    return Status::Corruption(fmt::format("{}: {}", path(), parsed.error().message()));
  }
  if (parsed->user_key != lookup.user_key()) return std::nullopt;
  return TableEntry{parsed->kind, parsed->sequence, std::string(it.value())};
}

std::unique_ptr<Iterator> Table::NewIterator(bool fill_cache) const {
  return std::make_unique<TableIterator>(*this, fill_cache);
}

}  // namespace kv::storage::lsm
