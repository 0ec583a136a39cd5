#include "phase2_storage/lsm/memtable.h"

#include <cstring>

#include "common/check.h"
#include "common/encoding.h"

namespace kv::storage::lsm {
namespace {

// Reads the varint32-prefixed bytes at p. The entries were written by Add in this process, so
// their encoding is trusted.
std::string_view LengthPrefixedAt(const char* p, const char** next = nullptr) {
  std::uint32_t len = 0;
  int shift = 0;
  for (;;) {
    const auto byte = static_cast<std::uint8_t>(*p++);
    len |= static_cast<std::uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
    shift += 7;
  }
  if (next != nullptr) *next = p + len;
  return std::string_view(p, len);
}

char* StoreVarint32(char* dst, std::uint32_t v) {
  while (v >= 0x80) {
    *dst++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *dst++ = static_cast<char>(v);
  return dst;
}

}  // namespace

int MemTable::EntryComparator::operator()(const char* a, const char* b) const {
  return CompareInternalKeys(LengthPrefixedAt(a), LengthPrefixedAt(b));
}

MemTable::MemTable(std::uint64_t seed) : table_(EntryComparator{}, &arena_, seed) {}

void MemTable::Add(SequenceNumber sequence, EntryKind kind, std::string_view user_key,
                   std::string_view value) {
  const std::size_t key_size = user_key.size() + kTrailerSize;
  const std::size_t size =
      VarintLength(key_size) + key_size + VarintLength(value.size()) + value.size();
  char* entry = arena_.Allocate(size);
  char* p = StoreVarint32(entry, static_cast<std::uint32_t>(key_size));
  std::memcpy(p, user_key.data(), user_key.size());
  p += user_key.size();
  StoreFixed<std::uint64_t>(p, PackTrailer(sequence, kind));
  p += kTrailerSize;
  p = StoreVarint32(p, static_cast<std::uint32_t>(value.size()));
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
  // Invariant: the entry is exactly as long as computed.
  KV_CHECK(p + value.size() == entry + size, "memtable entry size mismatch");
  table_.Insert(entry);
  entries_.fetch_add(1, std::memory_order_relaxed);
}

// Walks the skip list; key() is the internal key, value() the value, both in the arena.
class MemTableIterator final : public Iterator {
 public:
  explicit MemTableIterator(const MemTable::Table* table) : it_(table) {}

  bool Valid() const override { return it_.Valid(); }
  void SeekToFirst() override {
    it_.SeekToFirst();
    Decode();
  }
  void Seek(std::string_view target) override {
    // The skip list compares entries, so the target is encoded as one (without a value).
    scratch_.clear();
    AppendVarint32(scratch_, static_cast<std::uint32_t>(target.size()));
    scratch_.append(target);
    AppendVarint32(scratch_, 0);
    it_.Seek(scratch_.data());
    Decode();
  }
  void Next() override {
    it_.Next();
    Decode();
  }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  Status status() const override { return Status::Ok(); }

 private:
  void Decode() {
    if (!it_.Valid()) return;
    const char* next = nullptr;
    key_ = LengthPrefixedAt(it_.key(), &next);
    value_ = LengthPrefixedAt(next);
  }

  MemTable::Table::Iterator it_;
  std::string scratch_;
  std::string_view key_;
  std::string_view value_;
};

std::unique_ptr<Iterator> MemTable::NewIterator() const {
  return std::make_unique<MemTableIterator>(&table_);
}

std::optional<TableEntry> MemTable::Get(const LookupKey& lookup) const {
  MemTableIterator it(&table_);
  it.Seek(lookup.internal_key());
  if (!it.Valid()) return std::nullopt;
  const std::string_view found = it.key();
  if (ExtractUserKey(found) != lookup.user_key()) return std::nullopt;
  const std::uint64_t trailer = ExtractTrailer(found);
  const auto kind = static_cast<EntryKind>(trailer & 0xff);
  return TableEntry{kind, trailer >> 8,
                    kind == EntryKind::kValue ? std::string(it.value()) : std::string()};
}

}  // namespace kv::storage::lsm
