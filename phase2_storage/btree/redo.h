// Redo records: how the B+tree's write-ahead log describes a change to its pages.
//
// One engine write (a put, a delete, a whole batch, a checkpoint's meta update) is one log
// record, framed and checksummed by phase 1's record_log.h, so it is replayed whole or not at
// all. Its payload lists the pages the write changed, each as either
//   * a full image: the page's bytes from offset 12 on (after checksum and LSN), with its
//     longest run of zero bytes left out (for a slotted page, the free gap between the slot
//     array and the cells); written the first time a page changes after a checkpoint, so a page
//     torn by a crash while being written can be rebuilt from the log alone; or
//   * a diff: the byte ranges that differ from the page as it was before the write.
//
//   payload  := lsn:fixed64 count:varint32 change{count}
//   change   := page:fixed32 ( 1 hole_start:varint32 hole_len:varint32 bytes
//                            | 2 ranges:varint32 (offset:varint32 len:varint32 bytes){ranges} )
//
// Replay applies a change to the page in order: an image replaces it, a diff patches it (only
// if the page's LSN is older than the record's), and the page's LSN becomes the record's.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "phase2_storage/btree/page.h"

namespace kv::storage::btree {

enum class ChangeKind : std::uint8_t { kImage = 1, kDiff = 2 };

void AppendPageImage(std::string& dst, PageId id, const char* page, std::size_t page_size);
// Appends nothing and returns false if the pages are equal from offset kLoggedFrom on.
bool AppendPageDiff(std::string& dst, PageId id, const char* before, const char* after,
                    std::size_t page_size);

struct PageChange {
  PageId id = kNoPage;
  ChangeKind kind = ChangeKind::kDiff;
  std::string_view body;  // Points into the decoded payload.
};
struct RedoRecord {
  Lsn lsn = 0;
  std::vector<PageChange> changes;
};
// kCorruption for a truncated field, an unknown kind or trailing bytes.
Result<RedoRecord> DecodeRedoRecord(std::string_view payload, std::size_t page_size);
// Applies `change` to `page` (an image overwrites it; a diff patches it) and sets its LSN.
// kCorruption if a range lies outside the page.
Status ApplyPageChange(const PageChange& change, Lsn lsn, char* page, std::size_t page_size);

}  // namespace kv::storage::btree
