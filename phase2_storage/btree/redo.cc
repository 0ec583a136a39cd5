#include "phase2_storage/btree/redo.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "common/encoding.h"

namespace kv::storage::btree {

void AppendPageImage(std::string& dst, PageId id, const char* page, std::size_t page_size) {
  // The longest run of zeros from kPageHeaderSize on: the hole left out of the image.
  std::size_t best_start = page_size;
  std::size_t best_len = 0;
  std::size_t i = kPageHeaderSize;
  while (i < page_size) {
    if (page[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < page_size && page[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  AppendFixed32(dst, id);
  AppendFixed8(dst, static_cast<std::uint8_t>(ChangeKind::kImage));
  AppendVarint32(dst, static_cast<std::uint32_t>(best_start));
  AppendVarint32(dst, static_cast<std::uint32_t>(best_len));
  dst.append(page + kLoggedFrom, best_start - kLoggedFrom);
  dst.append(page + best_start + best_len, page_size - best_start - best_len);
}

bool AppendPageDiff(std::string& dst, PageId id, const char* before, const char* after,
                    std::size_t page_size) {
  // Ranges of differing bytes; two ranges with fewer than about kJoin equal bytes between them
  // become one, since each range costs a few bytes of offset and length. The pages are compared
  // eight bytes at a time: the XOR of two little-endian words is zero where they agree, and its
  // lowest and highest set bytes are the first and last bytes that differ.
  constexpr std::size_t kJoin = 8;
  auto diff = [&](std::size_t at) {
    return LoadFixed<std::uint64_t>(before + at) ^ LoadFixed<std::uint64_t>(after + at);
  };
  auto first_in = [](std::uint64_t x) { return static_cast<std::size_t>(std::countr_zero(x)) / 8; };
  auto last_in = [](std::uint64_t x) {
    return 7 - static_cast<std::size_t>(std::countl_zero(x)) / 8;
  };
  std::uint32_t count = 0;
  std::string ranges;
  std::size_t i = kLoggedFrom;
  while (i < page_size) {
    // Skip equal bytes: 32 at a time (four words, compared together), then 8, then 1.
    while (i + 32 <= page_size && (diff(i) | diff(i + 8) | diff(i + 16) | diff(i + 24)) == 0) {
      i += 32;
    }
    while (i + 8 <= page_size && diff(i) == 0) i += 8;
    if (i + 8 <= page_size) {
      i += first_in(diff(i));
    } else {
      while (i < page_size && before[i] == after[i]) ++i;
    }
    if (i >= page_size) break;
    const std::size_t start = i;
    std::size_t last = i;  // The last differing byte seen.
    for (i = last + 1; i < page_size && i - last <= kJoin;) {
      if (i + 8 <= page_size) {
        if (const std::uint64_t x = diff(i); x != 0) last = i + last_in(x);
        i += 8;
      } else {
        if (before[i] != after[i]) last = i;
        ++i;
      }
    }
    AppendVarint32(ranges, static_cast<std::uint32_t>(start));
    AppendVarint32(ranges, static_cast<std::uint32_t>(last + 1 - start));
    ranges.append(after + start, last + 1 - start);
    ++count;
    i = last + 1;
  }
  if (count == 0) return false;
  AppendFixed32(dst, id);
  AppendFixed8(dst, static_cast<std::uint8_t>(ChangeKind::kDiff));
  AppendVarint32(dst, count);
  dst.append(ranges);
  return true;
}

namespace {

// A Decoder that remembers whether any read failed, so a sequence of reads is checked once.
struct Cursor {
  Decoder d;
  bool ok = true;
  template <typename T>
  T Get(Result<T> r) {
    if (!r.has_value()) {
      ok = false;
      return T{};
    }
    return *r;
  }
  std::uint32_t Varint() { return Get(d.ReadVarint32()); }
  std::string_view Bytes(std::size_t n) { return Get(d.ReadBytes(n)); }
  std::size_t left() const { return d.remaining(); }
};

}  // namespace

Result<RedoRecord> DecodeRedoRecord(std::string_view payload, std::size_t page_size) {
  Cursor c{Decoder(payload)};
  RedoRecord r;
  r.lsn = c.Get(c.d.ReadFixed64());
  const std::uint32_t count = c.Varint();
  if (!c.ok) return Status::Corruption("redo record: truncated header");
  for (std::uint32_t k = 0; k < count; ++k) {
    PageChange ch;
    ch.id = c.Get(c.d.ReadFixed32());
    const std::uint8_t kind = c.Get(c.d.ReadFixed8());
    const std::size_t body_start = payload.size() - c.left();
    if (kind == static_cast<std::uint8_t>(ChangeKind::kImage)) {
      ch.kind = ChangeKind::kImage;
      const std::size_t hole_start = c.Varint();
      const std::size_t hole_len = c.Varint();
      if (c.ok && (hole_start < kLoggedFrom || hole_start + hole_len > page_size)) {
        return Status::Corruption(
            fmt::format("redo record {}: page {}: image hole outside the page", r.lsn, ch.id));
      }
      c.Bytes(page_size - kLoggedFrom - hole_len);
    } else if (kind == static_cast<std::uint8_t>(ChangeKind::kDiff)) {
      ch.kind = ChangeKind::kDiff;
      const std::uint32_t ranges = c.Varint();
      for (std::uint32_t j = 0; j < ranges && c.ok; ++j) {
        c.Varint();
        c.Bytes(c.Varint());
      }
    } else if (c.ok) {
      return Status::Corruption(
          fmt::format("redo record {}: unknown change kind {}", r.lsn, static_cast<int>(kind)));
    }
    if (!c.ok) return Status::Corruption(fmt::format("redo record {}: truncated change", r.lsn));
    ch.body = payload.substr(body_start, payload.size() - c.left() - body_start);
    r.changes.push_back(ch);
  }
  if (c.left() != 0) {
    return Status::Corruption(fmt::format("redo record {}: trailing bytes", r.lsn));
  }
  return r;
}

Status ApplyPageChange(const PageChange& change, Lsn lsn, char* page, std::size_t page_size) {
  auto bad = [&](std::string_view what) {
    return Status::Corruption(fmt::format("redo record {}: page {}: {}", lsn, change.id, what));
  };
  Cursor c{Decoder(change.body)};
  if (change.kind == ChangeKind::kImage) {
    const std::size_t hole_start = c.Varint();
    const std::size_t hole_len = c.Varint();
    if (!c.ok || hole_start < kLoggedFrom || hole_start + hole_len > page_size ||
        c.left() != page_size - kLoggedFrom - hole_len) {
      return bad("image does not fit the page");
    }
    const std::string_view rest = c.Bytes(c.left());
    const std::size_t head = hole_start - kLoggedFrom;
    std::memcpy(page + kLoggedFrom, rest.data(), head);
    std::memset(page + hole_start, 0, hole_len);
    std::memcpy(page + hole_start + hole_len, rest.data() + head, rest.size() - head);
  } else {
    const std::uint32_t ranges = c.Varint();
    for (std::uint32_t j = 0; j < ranges; ++j) {
      const std::size_t offset = c.Varint();
      const std::size_t len = c.Varint();
      const std::string_view bytes = c.Bytes(len);
      if (!c.ok || offset < kLoggedFrom || offset + len > page_size) {
        return bad("diff range outside the page");
      }
      std::memcpy(page + offset, bytes.data(), len);
    }
    if (!c.ok || c.left() != 0) return bad("malformed diff");
  }
  SetPageLsn(page, lsn);
  return Status::Ok();
}

}  // namespace kv::storage::btree
