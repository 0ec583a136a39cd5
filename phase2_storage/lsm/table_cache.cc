#include "phase2_storage/lsm/table_cache.h"

#include <algorithm>

#include "phase2_storage/lsm/version_set.h"

namespace kv::storage::lsm {

Result<std::shared_ptr<const Table>> TableCache::Find(const FileMeta& file) {
  {
    std::lock_guard lock(mu_);
    if (auto it = tables_.find(file.number); it != tables_.end()) return it->second;
  }
  // Opened outside the lock: two threads may both open a table; the second one's copy is used
  // once and dropped.
  const std::string path = JoinPath(dir_, TableFileName(file.number));
  // Mapped where the file system can (tables never change once written): a read is then a
  // memory access. Table handles both kinds of handle.
  KV_ASSIGN_OR_RETURN(auto handle, fs_.NewMappedFile(path));
  KV_ASSIGN_OR_RETURN(
      std::unique_ptr<Table> table,
      Table::Open(std::move(handle), path, file.size, block_cache_, file.number, blocks_read_));
  std::shared_ptr<const Table> shared = std::move(table);
  std::lock_guard lock(mu_);
  return tables_.try_emplace(file.number, shared).first->second;
}

void TableCache::Evict(std::uint64_t file_number) {
  {
    std::lock_guard lock(mu_);
    tables_.erase(file_number);
  }
  if (block_cache_ != nullptr) block_cache_->EraseFile(file_number);
}

namespace {

class LevelIterator final : public Iterator {
 public:
  LevelIterator(TableCache& cache, std::shared_ptr<const void> owner,
                std::span<const std::shared_ptr<const FileMeta>> files, bool fill_cache)
      : cache_(cache), owner_(std::move(owner)), files_(files), fill_cache_(fill_cache) {}

  bool Valid() const override { return current_ != nullptr && current_->Valid(); }
  std::string_view key() const override { return current_->key(); }
  std::string_view value() const override { return current_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    return current_ != nullptr ? current_->status() : Status::Ok();
  }

  void SeekToFirst() override {
    Open(0);
    if (current_ != nullptr) current_->SeekToFirst();
    SkipExhausted();
  }
  void Seek(std::string_view target) override {
    // The first file whose largest key is >= target holds the first key >= target.
    auto it = std::lower_bound(
        files_.begin(), files_.end(), target,
        [](const auto& f, std::string_view t) { return CompareInternalKeys(f->largest, t) < 0; });
    Open(static_cast<std::size_t>(it - files_.begin()));
    if (current_ != nullptr) current_->Seek(target);
    SkipExhausted();
  }
  void Next() override {
    current_->Next();
    SkipExhausted();
  }

 private:
  void Open(std::size_t index) {
    current_.reset();
    table_.reset();
    index_ = index;
    if (index_ >= files_.size() || !status_.ok()) return;
    auto table = cache_.Find(*files_[index_]);
    if (!table) {
      status_ = table.error();
      return;
    }
    table_ = std::move(*table);
    current_ = table_->NewIterator(fill_cache_);
  }
  void SkipExhausted() {
    while (current_ != nullptr && !current_->Valid() && current_->status().ok()) {
      Open(index_ + 1);
      if (current_ != nullptr) current_->SeekToFirst();
    }
  }

  TableCache& cache_;
  const std::shared_ptr<const void> owner_;  // Keeps files_ alive.
  const std::span<const std::shared_ptr<const FileMeta>> files_;
  const bool fill_cache_;
  std::size_t index_ = 0;
  std::shared_ptr<const Table> table_;  // Keeps the table open while current_ reads it.
  std::unique_ptr<Iterator> current_;
  Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewLevelIterator(TableCache& cache, std::shared_ptr<const void> owner,
                                           std::span<const std::shared_ptr<const FileMeta>> files,
                                           bool fill_cache) {
  return std::make_unique<LevelIterator>(cache, std::move(owner), files, fill_cache);
}

}  // namespace kv::storage::lsm
