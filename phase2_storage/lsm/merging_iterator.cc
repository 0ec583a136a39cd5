#include "phase2_storage/lsm/merging_iterator.h"

namespace kv::storage::lsm {
namespace {

// Picks the smallest current key by scanning the children: a read merges a handful of sources
// (the memtables, the level-0 tables, one table per deeper level), where a linear scan costs no
// more than keeping a heap in order.
class MergingIterator final : public Iterator {
 public:
  MergingIterator(std::vector<std::unique_ptr<Iterator>> children, KeyComparator compare)
      : children_(std::move(children)), compare_(compare) {}

  bool Valid() const override { return current_ != nullptr; }
  std::string_view key() const override { return current_->key(); }
  std::string_view value() const override { return current_->value(); }
  Status status() const override { return status_; }

  void SeekToFirst() override {
    for (auto& c : children_) c->SeekToFirst();
    FindSmallest();
  }
  void Seek(std::string_view target) override {
    for (auto& c : children_) c->Seek(target);
    FindSmallest();
  }
  void Next() override {
    current_->Next();
    FindSmallest();
  }

 private:
  void FindSmallest() {
    current_ = nullptr;
    for (auto& c : children_) {
      if (!c->Valid()) {
        if (Status s = c->status(); !s.ok()) {
          status_ = s;
          current_ = nullptr;
          return;
        }
        continue;
      }
      if (current_ == nullptr || compare_(c->key(), current_->key()) < 0) current_ = c.get();
    }
  }

  std::vector<std::unique_ptr<Iterator>> children_;
  KeyComparator compare_;
  Iterator* current_ = nullptr;
  Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewMergingIterator(std::vector<std::unique_ptr<Iterator>> children,
                                             KeyComparator compare) {
  return std::make_unique<MergingIterator>(std::move(children), compare);
}

}  // namespace kv::storage::lsm
