// Reads of the B+tree (btree_engine.h, "Reads"): Get and iterators, each at an epoch.
#include <fmt/format.h>

#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/btree/btree_internal.h"

namespace kv::storage::btree {

Result<Meta> BTreeEngine::View::ReadMetaPage() const {
  if (epoch_->has_meta.load(std::memory_order_acquire)) return *epoch_->meta;
  Meta m;
  KV_RETURN_IF_ERROR(With(kMetaPageId, [&](const char* page) {
    m = ReadMeta(page);
    return Status::Ok();
  }));
  std::lock_guard lock(epoch_->mu);
  if (!epoch_->has_meta.load(std::memory_order_relaxed)) {
    epoch_->meta = m;
    epoch_->has_meta.store(true, std::memory_order_release);
  }
  return m;
}

Status BTreeEngine::ReadOverflow(const View& view, PageId first, std::uint32_t length,
                                 std::string& out) const {
  out.clear();
  out.reserve(length);
  PageId id = first;
  while (out.size() < length) {
    if (id == kNoPage) {
      return Status::Corruption(
          fmt::format("{}: overflow chain from page {} ends after {} of {} bytes", file_name_,
                      first, out.size(), length));
    }
    KV_RETURN_IF_ERROR(view.With(
        id,
        [&](const char* page) {
          if (GetPageType(page) != PageType::kOverflow) {
            return Status::Corruption(fmt::format("{}: page {} in an overflow chain is a {} page",
                                                  file_name_, id, PageTypeName(GetPageType(page))));
          }
          const std::size_t n = PageCount(page);
          if (n == 0 || out.size() + n > length) {
            return Status::Corruption(
                fmt::format("{}: overflow page {} holds {} bytes, which do not fit a {}-byte value",
                            file_name_, id, n, length));
          }
          out.append(page + kPageHeaderSize, n);
          id = PageLink(page);
          return Status::Ok();
        },
        /*keep=*/false));
  }
  return Status::Ok();
}

Result<std::string> BTreeEngine::Get(const ReadOptions& options, std::string_view key) const {
  auto epoch = options.snapshot != nullptr
                   ? static_cast<const SnapshotImpl*>(options.snapshot)->epoch()
                   : RegisterEpoch();
  View view(*this, std::move(epoch));
  KV_ASSIGN_OR_RETURN(Meta m, view.ReadMetaPage());
  PageId id = m.root;
  std::string value;
  bool found = false;
  PageId overflow = kNoPage;
  std::uint32_t overflow_len = 0;
  for (std::uint32_t depth = 1;; ++depth) {
    // The upper levels are few and read by every lookup: they take frames. A leaf is one of
    // many, and a miss copies it from the page file's mapping without evicting anything.
    const bool leaf = depth == m.height;
    KV_RETURN_IF_ERROR(view.With(
        id,
        [&](const char* page) {
          const PageType type = GetPageType(page);
          if (leaf ? type != PageType::kLeaf : type != PageType::kInternal) {
            return Status::Corruption(
                fmt::format("{}: page {} at depth {} of a tree of height {} is a {} page",
                            file_name_, id, depth, m.height, PageTypeName(type)));
          }
          SlottedPage sp(const_cast<char*>(page), geo_.page_size);
          if (!leaf) {
            int index = 0;
            id = sp.ChildFor(key, &index);
            return Status::Ok();
          }
          const int i = sp.LowerBound(key, &found);
          if (!found) return Status::Ok();
          const std::string_view cell = sp.cell(i);
          if (CellIsOverflow(cell)) {
            overflow = CellOverflowPage(cell);
            overflow_len = CellValueLength(cell);
          } else {
            value.assign(CellInlineValue(cell));
          }
          return Status::Ok();
        },
        /*keep=*/!leaf));
    if (leaf) break;
  }
  if (!found) return Status::NotFound(std::string(key));
  if (overflow != kNoPage) KV_RETURN_IF_ERROR(ReadOverflow(view, overflow, overflow_len, value));
  return value;
}

// An iterator at one epoch. It copies the leaf it is on, so it holds no latch or pin between
// calls; the next leaf is found through the sibling link.
class BTreeEngine::IteratorImpl final : public Iterator {
 public:
  IteratorImpl(const BTreeEngine& engine, std::shared_ptr<ReadEpoch> epoch)
      : engine_(engine), view_(engine, std::move(epoch)) {}

  bool Valid() const override { return valid_; }
  void SeekToFirst() override { Seek({}); }
  void Seek(std::string_view target) override {
    valid_ = false;
    status_ = SeekLeaf(target);
    if (status_.ok()) Settle();
  }
  void Next() override {
    ++index_;
    Settle();
  }
  std::string_view key() const override { return CellKey(cell()); }
  std::string_view value() const override {
    const std::string_view c = cell();
    return CellIsOverflow(c) ? std::string_view(overflow_value_) : CellInlineValue(c);
  }
  Status status() const override { return status_; }

 private:
  std::string_view cell() const {
    return SlottedPage(const_cast<char*>(leaf_.data()), leaf_.size()).cell(index_);
  }
  int count() const { return PageCount(leaf_.data()); }

  Status LoadLeaf(PageId id) {
    return view_.With(
        id,
        [&](const char* page) {
          if (GetPageType(page) != PageType::kLeaf) {
            return Status::Corruption(fmt::format("{}: page {} on the leaf level is a {} page",
                                                  engine_.file_name_, id,
                                                  PageTypeName(GetPageType(page))));
          }
          leaf_.assign(page, engine_.geo_.page_size);
          return Status::Ok();
        },
        /*keep=*/false);
  }

  Status SeekLeaf(std::string_view target) {
    KV_ASSIGN_OR_RETURN(Meta m, view_.ReadMetaPage());
    PageId id = m.root;
    for (std::uint32_t depth = 1; depth < m.height; ++depth) {
      KV_RETURN_IF_ERROR(view_.With(id, [&](const char* page) {
        if (GetPageType(page) != PageType::kInternal) {
          return Status::Corruption(fmt::format("{}: page {} at depth {} is a {} page",
                                                engine_.file_name_, id, depth,
                                                PageTypeName(GetPageType(page))));
        }
        int index = 0;
        id = SlottedPage(const_cast<char*>(page), engine_.geo_.page_size).ChildFor(target, &index);
        return Status::Ok();
      }));
    }
    KV_RETURN_IF_ERROR(LoadLeaf(id));
    bool found = false;
    index_ = SlottedPage(leaf_.data(), leaf_.size()).LowerBound(target, &found);
    return Status::Ok();
  }

  // Moves past the ends of leaves along the sibling chain, and reads an overflow value.
  void Settle() {
    valid_ = false;
    while (index_ >= count()) {
      const PageId next = PageLink(leaf_.data());
      if (next == kNoPage) return;
      status_ = LoadLeaf(next);
      if (!status_.ok()) return;
      index_ = 0;
    }
    const std::string_view c = cell();
    if (CellIsOverflow(c)) {
      status_ =
          engine_.ReadOverflow(view_, CellOverflowPage(c), CellValueLength(c), overflow_value_);
      if (!status_.ok()) return;
    }
    valid_ = true;
  }

  const BTreeEngine& engine_;
  View view_;
  std::string leaf_;
  int index_ = 0;
  bool valid_ = false;
  Status status_;
  std::string overflow_value_;
};

std::unique_ptr<Iterator> BTreeEngine::NewIterator(const ReadOptions& options) const {
  auto epoch = options.snapshot != nullptr
                   ? static_cast<const SnapshotImpl*>(options.snapshot)->epoch()
                   : RegisterEpoch();
  return std::make_unique<IteratorImpl>(*this, std::move(epoch));
}

}  // namespace kv::storage::btree
