#include "phase2_storage/lsm/db_iterator.h"

#include <string>

namespace kv::storage::lsm {
namespace {

class DbIterator final : public Iterator {
 public:
  DbIterator(std::unique_ptr<Iterator> internal, SequenceNumber snapshot,
             std::vector<std::shared_ptr<const void>> pins)
      : pins_(std::move(pins)), internal_(std::move(internal)), snapshot_(snapshot) {}

  bool Valid() const override { return valid_; }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return internal_->value(); }
  Status status() const override { return status_.ok() ? internal_->status() : status_; }

  void SeekToFirst() override {
    internal_->SeekToFirst();
    FindVisible(/*skip=*/false);
  }
  void Seek(std::string_view target) override {
    // (target, snapshot) sorts before every version of target that is visible at the snapshot.
    internal_->Seek(LookupKey(target, snapshot_).internal_key());
    FindVisible(/*skip=*/false);
  }
  void Next() override {
    // key_ holds the current user key: every older version of it must be passed over.
    internal_->Next();
    FindVisible(/*skip=*/true);
  }

 private:
  // Moves to the first entry from the internal position on that is the newest visible version
  // of its key and not a tombstone. With `skip`, versions of key_ are passed over first.
  void FindVisible(bool skip) {
    valid_ = false;
    for (; internal_->Valid(); internal_->Next()) {
      auto parsed = ParseInternalKey(internal_->key());
      if (!parsed) {
        status_ = parsed.error();
        return;
      }
      if (parsed->sequence > snapshot_) continue;      // Written after the snapshot.
      if (skip && parsed->user_key == key_) continue;  // An older version of a key already seen.
      key_.assign(parsed->user_key);
      if (parsed->kind == EntryKind::kDelete) {
        skip = true;  // The key is deleted at the snapshot: hide its older versions too.
        continue;
      }
      valid_ = true;
      return;
    }
  }

  std::vector<std::shared_ptr<const void>> pins_;  // Declared first: destroyed last.
  std::unique_ptr<Iterator> internal_;
  const SequenceNumber snapshot_;
  std::string key_;
  bool valid_ = false;
  Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewDbIterator(std::unique_ptr<Iterator> internal, SequenceNumber snapshot,
                                        std::vector<std::shared_ptr<const void>> pins) {
  return std::make_unique<DbIterator>(std::move(internal), snapshot, std::move(pins));
}

}  // namespace kv::storage::lsm
