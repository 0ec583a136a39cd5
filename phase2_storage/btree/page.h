// The B+tree's pages: the byte layout of every page kind, and the slotted-page operations the
// tree is built from. docs/formats/btree-page.md writes the layout out as a grammar.
//
// Every page starts with the same 24-byte header:
//
//   offset  size  field
//   0       4     checksum: masked CRC32C of bytes [4, page_size)
//   4       8     page LSN: the log record that last changed the page (btree_engine.h, "Redo")
//   12      1     page type (PageType)
//   13      1     reserved, zero
//   14      2     count: cells (leaf, internal) or data bytes (overflow)
//   16      2     cell start: where the cell area begins (leaf, internal)
//   18      2     fragmented: dead bytes inside the cell area (leaf, internal)
//   20      4     link: right sibling (leaf), leftmost child (internal), next page (overflow,
//                 free); 0 means none — page 0 is the meta page, never a link target
//
// A leaf or internal page is slotted: after the header comes an array of `count` 2-byte cell
// offsets, sorted by the cells' keys; the cells themselves fill the page from its end towards
// the slot array. Inserting appends a cell below `cell start` and shifts the slots after its
// position; removing drops a slot and leaves the cell's bytes dead (`fragmented`) until Compact.
//
//   leaf cell      := key_len:u16 value_len:u32 key value            (inline value)
//                   | key_len:u16 (value_len | 1<<31):u32 key first:u32  (value in overflow pages)
//   internal cell  := key_len:u16 child:u32 key
//
// An internal page with n cells has n + 1 children: `link` (keys below the first cell's key)
// and each cell's child (keys from its key up to the next cell's key).
//
// Thread safety: these are functions on bytes; the caller owns the buffer and its latching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/status.h"

namespace kv::storage::btree {

using PageId = std::uint32_t;
using Lsn = std::uint64_t;

inline constexpr PageId kMetaPageId = 0;
inline constexpr PageId kNoPage = 0;

enum class PageType : std::uint8_t {
  kZero = 0,  // Never written (all zeros): never valid on disk.
  kMeta = 1,
  kLeaf = 2,
  kInternal = 3,
  kOverflow = 4,
  kFree = 5,
};
std::string_view PageTypeName(PageType type);

inline constexpr std::size_t kChecksumOffset = 0;
inline constexpr std::size_t kLsnOffset = 4;
inline constexpr std::size_t kTypeOffset = 12;
inline constexpr std::size_t kCountOffset = 14;
inline constexpr std::size_t kCellStartOffset = 16;
inline constexpr std::size_t kFragmentedOffset = 18;
inline constexpr std::size_t kLinkOffset = 20;
inline constexpr std::size_t kPageHeaderSize = 24;
// The log records bytes [kLoggedFrom, page_size) of a page; the checksum is computed when the
// page is written, and the LSN is the record's own.
inline constexpr std::size_t kLoggedFrom = 12;

inline constexpr std::size_t kMinPageSize = 1024;
inline constexpr std::size_t kMaxPageSize = 32768;  // Offsets and counts are 16 bits.

// --- header fields (any page kind) ---
inline Lsn PageLsn(const char* page) { return LoadFixed<std::uint64_t>(page + kLsnOffset); }
inline void SetPageLsn(char* page, Lsn lsn) { StoreFixed<std::uint64_t>(page + kLsnOffset, lsn); }
inline PageType GetPageType(const char* page) {
  return static_cast<PageType>(static_cast<std::uint8_t>(page[kTypeOffset]));
}
inline PageId PageLink(const char* page) { return LoadFixed<std::uint32_t>(page + kLinkOffset); }
inline void SetPageLink(char* page, PageId link) {
  StoreFixed<std::uint32_t>(page + kLinkOffset, link);
}
inline std::uint16_t PageCount(const char* page) {
  return LoadFixed<std::uint16_t>(page + kCountOffset);
}

// Writes the checksum of a page about to go to disk.
void SealPage(char* page, std::size_t page_size);
bool ChecksumMatches(const char* page, std::size_t page_size);
// What a page read from disk must pass before anyone uses it: its checksum, and for a leaf or
// internal page the slot array and cells lying inside the page with keys in strictly increasing
// order (so that later reads of it need no bounds checks). kCorruption naming `file`, the page
// and its offset otherwise.
Status VerifyPage(const char* page, std::size_t page_size, PageId id, const std::string& file);
// Copies a page (page_size bytes) from `from` to `to` and verifies the copy as VerifyPage does,
// checksumming the bytes as they are copied (one pass over them: crc32c::CopyAndExtend). The
// copy is what was verified, even if `from` changes meanwhile.
Status CopyAndVerifyPage(const char* from, char* to, std::size_t page_size, PageId id,
                         const std::string& file);

// --- the meta page (page 0) ---
//   24  magic "kvbtree1" (8 bytes)   32  page_size:u32   36  root:u32   40  page_count:u32
//   44  free_head:u32   48  free_count:u32   52  height:u32   56  checkpoints:u64
struct Meta {
  std::uint32_t page_size = 0;
  PageId root = kNoPage;
  std::uint32_t page_count = 0;  // Pages 0 .. page_count-1 exist; the file may be longer.
  PageId free_head = kNoPage;    // The free list, linked through the pages' `link`.
  std::uint32_t free_count = 0;
  std::uint32_t height = 0;  // 1 for a tree that is a single leaf.
  std::uint64_t checkpoints = 0;

  friend bool operator==(const Meta&, const Meta&) = default;
};
inline constexpr std::string_view kMetaMagic = "kvbtree1";
Meta ReadMeta(const char* page);
void WriteMeta(char* page, const Meta& meta);  // Sets the type and magic too.
// kCorruption unless the page is a meta page with the magic (its checksum was checked on read).
Status CheckMeta(const char* page, std::size_t page_size);

// --- cells ---
inline constexpr std::size_t kCellHeaderSize = 6;
inline constexpr std::uint32_t kOverflowFlag = 1u << 31;

std::string MakeLeafCell(std::string_view key, std::string_view value);
std::string MakeOverflowCell(std::string_view key, std::uint32_t value_len, PageId first);
std::string MakeInternalCell(std::string_view key, PageId child);

inline std::string_view CellKey(std::string_view cell) {
  return cell.substr(kCellHeaderSize, LoadFixed<std::uint16_t>(cell.data()));
}
inline bool CellIsOverflow(std::string_view cell) {
  return (LoadFixed<std::uint32_t>(cell.data() + 2) & kOverflowFlag) != 0;
}
inline std::uint32_t CellValueLength(std::string_view cell) {
  return LoadFixed<std::uint32_t>(cell.data() + 2) & ~kOverflowFlag;
}
// Inline leaf cell: the value. Overflow leaf cell: the first overflow page.
inline std::string_view CellInlineValue(std::string_view cell) {
  return cell.substr(kCellHeaderSize + CellKey(cell).size(), CellValueLength(cell));
}
inline PageId CellOverflowPage(std::string_view cell) {
  return LoadFixed<std::uint32_t>(cell.data() + kCellHeaderSize + CellKey(cell).size());
}
inline PageId CellChild(std::string_view cell) { return LoadFixed<std::uint32_t>(cell.data() + 2); }
inline void SetCellChild(char* cell, PageId child) { StoreFixed<std::uint32_t>(cell + 2, child); }

// The sizes that keep the tree balanced. usable = page_size - header. No cell is bigger than
// max_cell = usable/3 - 2 (its slot included, a third of the page), so a page that overflows by
// one cell always splits into two that fit, each at least a sixth full. A page other than the
// root holding less than min_fill = usable/8 bytes of slots and cells is merged with a sibling
// or takes cells from it.
struct PageGeometry {
  explicit PageGeometry(std::size_t page_size);
  std::size_t page_size;
  std::size_t usable;
  std::size_t max_cell;
  std::size_t min_fill;
  std::size_t max_key;           // The longest key a cell can hold (with an overflow reference).
  std::size_t overflow_payload;  // Data bytes per overflow page.
  // Whether a leaf cell for this key and value holds the value inline.
  bool FitsInline(std::size_t key_len, std::size_t value_len) const {
    return kCellHeaderSize + key_len + value_len <= max_cell;
  }
};

// A mutable view of a leaf or internal page in a buffer the caller owns.
class SlottedPage {
 public:
  SlottedPage(char* page, std::size_t page_size) : p_(page), size_(page_size) {}

  // Makes the page an empty node of `type` with `link`; keeps the LSN.
  void Init(PageType type, PageId link);

  PageType type() const { return GetPageType(p_); }
  int count() const { return PageCount(p_); }
  PageId link() const { return PageLink(p_); }
  void set_link(PageId link) { SetPageLink(p_, link); }
  std::string_view cell(int i) const;
  std::string_view key(int i) const { return CellKey(cell(i)); }
  // Bytes of slots and live cells.
  std::size_t used() const;
  // First index whose key is >= `key` (count() if none); `found` says whether it is equal.
  int LowerBound(std::string_view key, bool* found) const;
  // Internal page: the child to descend into for `key`, and its index (0 = link).
  PageId ChildFor(std::string_view key, int* index) const;
  PageId child(int index) const { return index == 0 ? link() : CellChild(cell(index - 1)); }

  // Each returns false, changing nothing, if the page has no room.
  bool Insert(int i, std::string_view cell);
  bool Replace(int i, std::string_view cell);
  void Remove(int i);
  // Rewrites the cell area without dead bytes.
  void Compact();

 private:
  std::uint16_t slot(int i) const { return LoadFixed<std::uint16_t>(p_ + kPageHeaderSize + 2 * i); }
  void set_slot(int i, std::uint16_t offset) {
    StoreFixed<std::uint16_t>(p_ + kPageHeaderSize + 2 * i, offset);
  }
  std::uint16_t cell_start() const { return LoadFixed<std::uint16_t>(p_ + kCellStartOffset); }
  std::uint16_t fragmented() const { return LoadFixed<std::uint16_t>(p_ + kFragmentedOffset); }
  void set_count(int n) {
    StoreFixed<std::uint16_t>(p_ + kCountOffset, static_cast<std::uint16_t>(n));
  }
  void set_cell_start(std::size_t v) {
    StoreFixed<std::uint16_t>(p_ + kCellStartOffset, static_cast<std::uint16_t>(v));
  }
  void set_fragmented(std::size_t v) {
    StoreFixed<std::uint16_t>(p_ + kFragmentedOffset, static_cast<std::uint16_t>(v));
  }
  std::size_t contiguous_free() const { return cell_start() - kPageHeaderSize - 2 * count(); }

  char* p_;
  std::size_t size_;
};

// Length of the cell starting at `cell` (leaf or internal).
std::size_t CellLength(PageType type, const char* cell);

// A node taken out of its page, for the operations that move cells between pages (split,
// merge, redistribute): they rebuild whole pages.
struct Node {
  PageType type = PageType::kLeaf;
  PageId link = kNoPage;
  std::vector<std::string> cells;  // In key order.

  std::size_t used() const;  // As SlottedPage::used() would be once stored.
};
Node ReadNode(const char* page, std::size_t page_size);
// REQUIRES: node.used() <= usable. Keeps the page's LSN.
void StoreNode(const Node& node, char* page, std::size_t page_size);
// Splits cells[0..n) into two runs of nearly equal bytes, each non-empty: returns the index of
// the first cell of the second run. For an internal node the cell at that index moves up as the
// separator (belongs to neither run). REQUIRES: enough cells (2 for a leaf, 3 for an internal).
std::size_t BalancedSplitPoint(const std::vector<std::string>& cells, bool internal);

}  // namespace kv::storage::btree
