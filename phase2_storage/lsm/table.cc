#include "phase2_storage/lsm/table.h"

#include <fmt/format.h>

#include "phase2_storage/lsm/bloom.h"

namespace kv::storage::lsm {
namespace {

// The index entry's value is a block handle; a bad one is corruption of the index block.
Result<BlockHandle> IndexHandle(const Iterator& index, const std::string& path,
                                const BlockHandle& index_block, std::uint64_t data_end) {
  auto handle = DecodeBlockHandle(index.value());
  // Written without sums so that huge values cannot wrap around and pass.
  if (!handle || handle->offset > data_end || handle->size > data_end - handle->offset ||
      data_end - handle->offset - handle->size < kBlockTrailerSize) {
    return Status::Corruption(fmt::format("{}: index block at offset {} holds a bad block handle",
                                          path, index_block.offset));
  }
  return *handle;
}

// Index + data blocks: walks the index, and within each indexed data block its entries.
class TableIterator final : public Iterator {
 public:
  TableIterator(const Table& table, std::shared_ptr<const Block> index, std::uint64_t data_end,
                BlockHandle index_handle, bool fill_cache)
      : table_(table),
        fill_cache_(fill_cache),
        index_(Block::NewIterator(std::move(index), CompareInternalKeys, kTrailerSize)),
        data_end_(data_end),
        index_handle_(index_handle) {}

  bool Valid() const override { return data_ != nullptr && data_->Valid(); }
  std::string_view key() const override { return data_->key(); }
  std::string_view value() const override { return data_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    if (!index_->status().ok()) return index_->status();
    if (data_ != nullptr) return data_->status();
    return Status::Ok();
  }

  void SeekToFirst() override {
    index_->SeekToFirst();
    LoadBlock();
    if (data_ != nullptr) data_->SeekToFirst();
    SkipEmptyBlocks();
  }
  void Seek(std::string_view target) override {
    index_->Seek(target);
    LoadBlock();
    if (data_ != nullptr) data_->Seek(target);
    SkipEmptyBlocks();
  }
  void Next() override {
    data_->Next();
    SkipEmptyBlocks();
  }

 private:
  // Points data_ at the block the index iterator is on (nullptr past the last one or on error).
  void LoadBlock() {
    data_.reset();
    if (!index_->Valid() || !status_.ok()) return;
    auto handle = IndexHandle(*index_, table_.path(), index_handle_, data_end_);
    if (!handle) {
      status_ = handle.error();
      return;
    }
    auto block = table_.ReadDataBlock(*handle, fill_cache_);
    if (!block) {
      status_ = block.error();
      return;
    }
    data_ = Block::NewIterator(std::move(*block), CompareInternalKeys, kTrailerSize);
  }
  // While the current block is exhausted (and healthy), moves on to the next one.
  void SkipEmptyBlocks() {
    while (data_ != nullptr && !data_->Valid() && data_->status().ok()) {
      index_->Next();
      LoadBlock();
      if (data_ != nullptr) data_->SeekToFirst();
    }
  }

  const Table& table_;
  const bool fill_cache_;
  std::unique_ptr<Iterator> index_;
  std::unique_ptr<Iterator> data_;
  const std::uint64_t data_end_;
  const BlockHandle index_handle_;
  Status status_;
};

}  // namespace

Result<std::unique_ptr<Table>> Table::Open(std::unique_ptr<RandomAccessFile> file, std::string path,
                                           std::uint64_t file_size, BlockCache* cache,
                                           std::uint64_t file_number) {
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
  KV_ASSIGN_OR_RETURN(std::string index_bytes, ReadBlock(*file, path, footer.index));
  KV_ASSIGN_OR_RETURN(
      std::shared_ptr<const Block> index,
      Block::Parse(std::move(index_bytes), BlockLocation{std::make_shared<const std::string>(path),
                                                         "index", footer.index.offset}));
  std::string filter;
  if (footer.filter.size > 0) {
    KV_ASSIGN_OR_RETURN(filter, ReadBlock(*file, path, footer.filter));
  }
  return std::unique_ptr<Table>(new Table(std::move(file), std::move(path), file_size, footer,
                                          std::move(index), std::move(filter), cache, file_number));
}

Result<std::shared_ptr<const Block>> Table::ReadDataBlock(const BlockHandle& handle,
                                                          bool fill_cache) const {
  if (cache_ != nullptr) {
    if (auto block = cache_->Lookup(file_number_, handle.offset)) return block;
  }
  KV_ASSIGN_OR_RETURN(std::string contents, ReadBlock(*file_, path_, handle));
  KV_ASSIGN_OR_RETURN(std::shared_ptr<const Block> block,
                      Block::Parse(std::move(contents), fmt::format("{} data block at offset {}",
                                                                    path_, handle.offset)));
  if (cache_ != nullptr && fill_cache) cache_->Insert(file_number_, handle.offset, block);
  return block;
}

bool Table::MayContain(std::string_view user_key) const {
  return filter_.empty() || BloomMayContain(filter_, user_key);
}

Result<std::optional<TableEntry>> Table::Get(const LookupKey& lookup) const {
  if (!MayContain(lookup.user_key())) return std::nullopt;
  auto it = NewIterator();
  it->Seek(lookup.internal_key());
  if (!it->Valid()) {
    KV_RETURN_IF_ERROR(it->status());
    return std::nullopt;
  }
  auto parsed = ParseInternalKey(it->key());
  if (!parsed) {
    return Status::Corruption(fmt::format("{}: {}", path_, parsed.error().message()));
  }
  if (parsed->user_key != lookup.user_key()) return std::nullopt;
  return TableEntry{parsed->kind, parsed->sequence, std::string(it->value())};
}

std::unique_ptr<Iterator> Table::NewIterator(bool fill_cache) const {
  const std::uint64_t data_end =
      footer_.filter.size > 0 ? footer_.filter.offset : footer_.index.offset;
  return std::make_unique<TableIterator>(*this, index_, data_end, footer_.index, fill_cache);
}

}  // namespace kv::storage::lsm
