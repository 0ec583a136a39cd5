#include "phase2_storage/btree/page.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "common/check.h"
#include "common/crc32c.h"
#include "common/encoding.h"

namespace kv::storage::btree {

std::string_view PageTypeName(PageType type) {
  switch (type) {
    case PageType::kZero:
      return "zero";
    case PageType::kMeta:
      return "meta";
    case PageType::kLeaf:
      return "leaf";
    case PageType::kInternal:
      return "internal";
    case PageType::kOverflow:
      return "overflow";
    case PageType::kFree:
      return "free";
  }
  return "unknown";
}

namespace {

std::uint32_t PageChecksum(const char* page, std::size_t page_size) {
  return crc32c::Mask(crc32c::Value(std::string_view(page + 4, page_size - 4)));
}

}  // namespace

void SealPage(char* page, std::size_t page_size) {
  StoreFixed<std::uint32_t>(page + kChecksumOffset, PageChecksum(page, page_size));
}

bool ChecksumMatches(const char* page, std::size_t page_size) {
  return LoadFixed<std::uint32_t>(page + kChecksumOffset) == PageChecksum(page, page_size);
}

std::size_t CellLength(PageType type, const char* cell) {
  const std::size_t key_len = LoadFixed<std::uint16_t>(cell);
  if (type == PageType::kInternal) return kCellHeaderSize + key_len;
  const std::uint32_t v = LoadFixed<std::uint32_t>(cell + 2);
  return kCellHeaderSize + key_len + ((v & kOverflowFlag) != 0 ? 4 : (v & ~kOverflowFlag));
}

namespace {

Status BadPage(const std::string& file, PageId id, std::size_t page_size, std::string_view what) {
  return Status::Corruption(fmt::format("{}: page {} (offset {}): {}", file, id,
                                        static_cast<std::uint64_t>(id) * page_size, what));
}

// VerifyPage past the checksum.
Status VerifyLayout(const char* page, std::size_t page_size, PageId id, const std::string& file) {
  auto bad = [&](std::string_view what) { return BadPage(file, id, page_size, what); };
  const PageType type = GetPageType(page);
  switch (type) {
    case PageType::kMeta:
      if (id != kMetaPageId) return bad("a meta page away from page 0");
      return CheckMeta(page, page_size).WithContext(fmt::format("{}: page 0", file));
    case PageType::kFree:
      return Status::Ok();
    case PageType::kOverflow:
      if (PageCount(page) > page_size - kPageHeaderSize) return bad("overflow data past the page");
      return Status::Ok();
    case PageType::kLeaf:
    case PageType::kInternal:
      break;
    default:
      return bad(fmt::format("unknown page type {}", static_cast<int>(type)));
  }
  const std::size_t count = PageCount(page);
  const std::size_t cell_start = LoadFixed<std::uint16_t>(page + kCellStartOffset);
  const std::size_t fragmented = LoadFixed<std::uint16_t>(page + kFragmentedOffset);
  if (kPageHeaderSize + 2 * count > cell_start || cell_start > page_size ||
      fragmented > page_size - cell_start) {
    return bad("slot array and cell area overlap");
  }
  if (type == PageType::kInternal && PageLink(page) == kNoPage) return bad("no leftmost child");
  std::string_view previous;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t offset = LoadFixed<std::uint16_t>(page + kPageHeaderSize + 2 * i);
    if (offset < cell_start || offset + kCellHeaderSize > page_size) {
      return bad(fmt::format("cell {} at {} outside the cell area", i, offset));
    }
    const std::size_t key_len = LoadFixed<std::uint16_t>(page + offset);
    if (offset + kCellHeaderSize + key_len > page_size) {
      return bad(fmt::format("cell {} key past the page", i));
    }
    if (type == PageType::kLeaf) {
      const std::uint32_t v = LoadFixed<std::uint32_t>(page + offset + 2);
      const std::size_t rest = (v & kOverflowFlag) != 0 ? 4 : (v & ~kOverflowFlag);
      if (offset + kCellHeaderSize + key_len + rest > page_size) {
        return bad(fmt::format("cell {} value past the page", i));
      }
    } else if (CellChild(std::string_view(page + offset, kCellHeaderSize)) == kNoPage) {
      return bad(fmt::format("cell {} has no child", i));
    }
    const std::string_view key(page + offset + kCellHeaderSize, key_len);
    if (i > 0 && CompareBytes(previous, key) >= 0) {
      return bad(fmt::format("cell {} key out of order", i));
    }
    previous = key;
  }
  return Status::Ok();
}

}  // namespace

Status VerifyPage(const char* page, std::size_t page_size, PageId id, const std::string& file) {
  if (!ChecksumMatches(page, page_size)) return BadPage(file, id, page_size, "checksum mismatch");
  return VerifyLayout(page, page_size, id, file);
}

Status CopyAndVerifyPage(const char* from, char* to, std::size_t page_size, PageId id,
                         const std::string& file) {
  std::memcpy(to, from, 4);
  const std::uint32_t crc =
      crc32c::CopyAndExtend(0, std::string_view(from + 4, page_size - 4), to + 4);
  if (LoadFixed<std::uint32_t>(to + kChecksumOffset) != crc32c::Mask(crc)) {
    return BadPage(file, id, page_size, "checksum mismatch");
  }
  return VerifyLayout(to, page_size, id, file);
}

Meta ReadMeta(const char* page) {
  Meta m;
  m.page_size = LoadFixed<std::uint32_t>(page + 32);
  m.root = LoadFixed<std::uint32_t>(page + 36);
  m.page_count = LoadFixed<std::uint32_t>(page + 40);
  m.free_head = LoadFixed<std::uint32_t>(page + 44);
  m.free_count = LoadFixed<std::uint32_t>(page + 48);
  m.height = LoadFixed<std::uint32_t>(page + 52);
  m.checkpoints = LoadFixed<std::uint64_t>(page + 56);
  return m;
}

void WriteMeta(char* page, const Meta& m) {
  page[kTypeOffset] = static_cast<char>(PageType::kMeta);
  std::memcpy(page + kPageHeaderSize, kMetaMagic.data(), kMetaMagic.size());
  StoreFixed<std::uint32_t>(page + 32, m.page_size);
  StoreFixed<std::uint32_t>(page + 36, m.root);
  StoreFixed<std::uint32_t>(page + 40, m.page_count);
  StoreFixed<std::uint32_t>(page + 44, m.free_head);
  StoreFixed<std::uint32_t>(page + 48, m.free_count);
  StoreFixed<std::uint32_t>(page + 52, m.height);
  StoreFixed<std::uint64_t>(page + 56, m.checkpoints);
}

Status CheckMeta(const char* page, std::size_t page_size) {
  if (GetPageType(page) != PageType::kMeta ||
      std::string_view(page + kPageHeaderSize, kMetaMagic.size()) != kMetaMagic) {
    return Status::Corruption("not a B+tree meta page (bad type or magic)");
  }
  const Meta m = ReadMeta(page);
  if (m.page_size != page_size) {
    return Status::InvalidArgument(fmt::format(
        "the tree was created with {}-byte pages, opened with {}", m.page_size, page_size));
  }
  if (m.page_count < 2 || m.root == kNoPage || m.root >= m.page_count || m.height == 0 ||
      m.free_count >= m.page_count || (m.free_head >= m.page_count)) {
    return Status::Corruption(fmt::format(
        "meta page fields out of range (root {}, pages {}, free head {}, free {}, height {})",
        m.root, m.page_count, m.free_head, m.free_count, m.height));
  }
  return Status::Ok();
}

std::string MakeLeafCell(std::string_view key, std::string_view value) {
  std::string c;
  c.reserve(kCellHeaderSize + key.size() + value.size());
  AppendFixed16(c, static_cast<std::uint16_t>(key.size()));
  AppendFixed32(c, static_cast<std::uint32_t>(value.size()));
  c.append(key);
  c.append(value);
  return c;
}

std::string MakeOverflowCell(std::string_view key, std::uint32_t value_len, PageId first) {
  std::string c;
  AppendFixed16(c, static_cast<std::uint16_t>(key.size()));
  AppendFixed32(c, value_len | kOverflowFlag);
  c.append(key);
  AppendFixed32(c, first);
  return c;
}

std::string MakeInternalCell(std::string_view key, PageId child) {
  std::string c;
  AppendFixed16(c, static_cast<std::uint16_t>(key.size()));
  AppendFixed32(c, child);
  c.append(key);
  return c;
}

PageGeometry::PageGeometry(std::size_t size)
    : page_size(size),
      usable(size - kPageHeaderSize),
      max_cell(usable / 3 - 2),
      min_fill(usable / 8),
      max_key(max_cell - kCellHeaderSize - 4),
      overflow_payload(size - kPageHeaderSize) {}

// --- SlottedPage ---

void SlottedPage::Init(PageType type, PageId link) {
  std::memset(p_ + kTypeOffset, 0, size_ - kTypeOffset);
  p_[kTypeOffset] = static_cast<char>(type);
  set_cell_start(size_);
  set_link(link);
}

std::string_view SlottedPage::cell(int i) const {
  const std::uint16_t offset = slot(i);
  return {p_ + offset, CellLength(type(), p_ + offset)};
}

std::size_t SlottedPage::used() const {
  return 2 * static_cast<std::size_t>(count()) + (size_ - cell_start()) - fragmented();
}

int SlottedPage::LowerBound(std::string_view key, bool* found) const {
  int lo = 0;
  int hi = count();
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (CompareBytes(this->key(mid), key) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = lo < count() && CompareBytes(this->key(lo), key) == 0;
  return lo;
}

PageId SlottedPage::ChildFor(std::string_view key, int* index) const {
  // The number of separators <= key: the child between the last of them and the next.
  int lo = 0;
  int hi = count();
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (CompareBytes(this->key(mid), key) <= 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *index = lo;
  return child(lo);
}

bool SlottedPage::Insert(int i, std::string_view c) {
  const std::size_t need = c.size() + 2;
  if (contiguous_free() < need) {
    if (contiguous_free() + fragmented() < need) return false;
    Compact();
  }
  const std::size_t start = cell_start() - c.size();
  std::memcpy(p_ + start, c.data(), c.size());
  char* slots = p_ + kPageHeaderSize;
  std::memmove(slots + 2 * (i + 1), slots + 2 * i, 2 * static_cast<std::size_t>(count() - i));
  set_slot(i, static_cast<std::uint16_t>(start));
  set_count(count() + 1);
  set_cell_start(start);
  return true;
}

bool SlottedPage::Replace(int i, std::string_view c) {
  const std::string_view old = cell(i);
  if (old.size() == c.size()) {
    std::memcpy(p_ + slot(i), c.data(), c.size());
    return true;
  }
  if (c.size() <= contiguous_free()) {
    const std::size_t start = cell_start() - c.size();
    std::memcpy(p_ + start, c.data(), c.size());
    set_fragmented(fragmented() + old.size());
    set_slot(i, static_cast<std::uint16_t>(start));
    set_cell_start(start);
    return true;
  }
  if (c.size() > contiguous_free() + fragmented() + old.size()) return false;
  Remove(i);
  const bool inserted = Insert(i, c);
  KV_CHECK(inserted, "a cell that fits after removing the old one must insert");
  return true;
}

void SlottedPage::Remove(int i) {
  const std::uint16_t offset = slot(i);
  const std::size_t len = CellLength(type(), p_ + offset);
  if (offset == cell_start()) {
    std::memset(p_ + offset, 0, len);  // The lowest cell: the free gap just grows.
    set_cell_start(offset + len);
  } else {
    set_fragmented(fragmented() + len);
  }
  char* slots = p_ + kPageHeaderSize;
  std::memmove(slots + 2 * i, slots + 2 * (i + 1), 2 * static_cast<std::size_t>(count() - i - 1));
  set_count(count() - 1);
  std::memset(slots + 2 * count(), 0, 2);
}

void SlottedPage::Compact() {
  const int n = count();
  std::vector<std::string> cells;
  cells.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) cells.emplace_back(cell(i));
  std::size_t pos = size_;
  for (int i = 0; i < n; ++i) {
    pos -= cells[static_cast<std::size_t>(i)].size();
    std::memcpy(p_ + pos, cells[static_cast<std::size_t>(i)].data(),
                cells[static_cast<std::size_t>(i)].size());
    set_slot(i, static_cast<std::uint16_t>(pos));
  }
  const std::size_t slots_end = kPageHeaderSize + 2 * static_cast<std::size_t>(n);
  std::memset(p_ + slots_end, 0, pos - slots_end);
  set_cell_start(pos);
  set_fragmented(0);
}

// --- Node ---

std::size_t Node::used() const {
  std::size_t total = 0;
  for (const auto& c : cells) total += c.size() + 2;
  return total;
}

Node ReadNode(const char* page, std::size_t page_size) {
  SlottedPage sp(const_cast<char*>(page), page_size);
  Node node;
  node.type = sp.type();
  node.link = sp.link();
  node.cells.reserve(static_cast<std::size_t>(sp.count()));
  for (int i = 0; i < sp.count(); ++i) node.cells.emplace_back(sp.cell(i));
  return node;
}

void StoreNode(const Node& node, char* page, std::size_t page_size) {
  KV_CHECK(node.used() <= page_size - kPageHeaderSize, "StoreNode: the node does not fit");
  SlottedPage sp(page, page_size);
  sp.Init(node.type, node.link);
  for (std::size_t i = 0; i < node.cells.size(); ++i) {
    const bool ok = sp.Insert(static_cast<int>(i), node.cells[i]);
    KV_CHECK(ok, "StoreNode: insert into a page with room failed");
  }
}

std::size_t BalancedSplitPoint(const std::vector<std::string>& cells, bool internal) {
  const std::size_t n = cells.size();
  KV_CHECK(n >= (internal ? 3u : 2u), "BalancedSplitPoint: too few cells");
  std::vector<std::size_t> prefix(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + cells[i].size() + 2;
  std::size_t best = 1;
  std::size_t best_gap = SIZE_MAX;
  const std::size_t last = internal ? n - 2 : n - 1;
  for (std::size_t k = 1; k <= last; ++k) {
    const std::size_t left = prefix[k];
    const std::size_t right = prefix[n] - prefix[internal ? k + 1 : k];
    const std::size_t gap = left > right ? left - right : right - left;
    if (gap < best_gap) {
      best_gap = gap;
      best = k;
    }
  }
  return best;
}

}  // namespace kv::storage::btree
