#include "phase2_storage/lsm/version_edit.h"

#include <fmt/format.h>

#include "common/encoding.h"

namespace kv::storage::lsm {
namespace {

// Field tags. Numbers are part of the format: never reuse one.
enum Tag : std::uint32_t {
  kLogNumber = 1,
  kNextFileNumber = 2,
  kLastSequence = 3,
  kCompactPointer = 4,
  kDeletedFile = 5,
  kNewFile = 6,
};

Result<int> ReadLevel(Decoder& d) {
  KV_ASSIGN_OR_RETURN(std::uint32_t level, d.ReadVarint32());
  if (level >= static_cast<std::uint32_t>(kNumLevels)) {
    return Status::Corruption(fmt::format("version edit names level {}", level));
  }
  return static_cast<int>(level);
}

Result<std::string> ReadInternalKey(Decoder& d) {
  KV_ASSIGN_OR_RETURN(std::string_view key, d.ReadLengthPrefixed());
  KV_RETURN_IF_ERROR(ParseInternalKey(key).status());
  return std::string(key);
}

}  // namespace

void VersionEdit::Encode(std::string& dst) const {
  if (log_number) {
    AppendVarint32(dst, kLogNumber);
    AppendVarint64(dst, *log_number);
  }
  if (next_file_number) {
    AppendVarint32(dst, kNextFileNumber);
    AppendVarint64(dst, *next_file_number);
  }
  if (last_sequence) {
    AppendVarint32(dst, kLastSequence);
    AppendVarint64(dst, *last_sequence);
  }
  for (const auto& [level, key] : compact_pointers) {
    AppendVarint32(dst, kCompactPointer);
    AppendVarint32(dst, static_cast<std::uint32_t>(level));
    AppendLengthPrefixed(dst, key);
  }
  for (const auto& [level, number] : deleted_files) {
    AppendVarint32(dst, kDeletedFile);
    AppendVarint32(dst, static_cast<std::uint32_t>(level));
    AppendVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files) {
    AppendVarint32(dst, kNewFile);
    AppendVarint32(dst, static_cast<std::uint32_t>(level));
    AppendVarint64(dst, f.number);
    AppendVarint64(dst, f.size);
    AppendVarint64(dst, f.entries);
    AppendLengthPrefixed(dst, f.smallest);
    AppendLengthPrefixed(dst, f.largest);
  }
}

Result<VersionEdit> VersionEdit::Decode(std::string_view src) {
  VersionEdit e;
  Decoder d(src);
  while (!d.empty()) {
    KV_ASSIGN_OR_RETURN(std::uint32_t tag, d.ReadVarint32());
    switch (tag) {
      case kLogNumber: {
        KV_ASSIGN_OR_RETURN(e.log_number, d.ReadVarint64());
        break;
      }
      case kNextFileNumber: {
        KV_ASSIGN_OR_RETURN(e.next_file_number, d.ReadVarint64());
        break;
      }
      case kLastSequence: {
        KV_ASSIGN_OR_RETURN(e.last_sequence, d.ReadVarint64());
        if (*e.last_sequence > kMaxSequenceNumber) {
          return Status::Corruption("version edit with a sequence number over 56 bits");
        }
        break;
      }
      case kCompactPointer: {
        KV_ASSIGN_OR_RETURN(int level, ReadLevel(d));
        KV_ASSIGN_OR_RETURN(std::string key, ReadInternalKey(d));
        e.compact_pointers.emplace_back(level, std::move(key));
        break;
      }
      case kDeletedFile: {
        KV_ASSIGN_OR_RETURN(int level, ReadLevel(d));
        KV_ASSIGN_OR_RETURN(std::uint64_t number, d.ReadVarint64());
        e.deleted_files.emplace_back(level, number);
        break;
      }
      case kNewFile: {
        KV_ASSIGN_OR_RETURN(int level, ReadLevel(d));
        FileMeta f;
        KV_ASSIGN_OR_RETURN(f.number, d.ReadVarint64());
        KV_ASSIGN_OR_RETURN(f.size, d.ReadVarint64());
        KV_ASSIGN_OR_RETURN(f.entries, d.ReadVarint64());
        KV_ASSIGN_OR_RETURN(f.smallest, ReadInternalKey(d));
        KV_ASSIGN_OR_RETURN(f.largest, ReadInternalKey(d));
        if (CompareInternalKeys(f.smallest, f.largest) > 0) {
          return Status::Corruption(fmt::format(
              "version edit: table {} has its smallest key after its largest", f.number));
        }
        e.new_files.emplace_back(level, std::move(f));
        break;
      }
      default:
        return Status::Corruption(fmt::format("version edit with unknown field tag {}", tag));
    }
  }
  return e;
}

std::string VersionEdit::DebugString() const {
  std::string out = "{";
  if (log_number) out += fmt::format(" log={}", *log_number);
  if (next_file_number) out += fmt::format(" next_file={}", *next_file_number);
  if (last_sequence) out += fmt::format(" last_seq={}", *last_sequence);
  for (const auto& [level, number] : deleted_files) out += fmt::format(" -L{}:{}", level, number);
  for (const auto& [level, f] : new_files) {
    out += fmt::format(" +L{}:{}({}B,{}e)", level, f.number, f.size, f.entries);
  }
  return out + " }";
}

}  // namespace kv::storage::lsm
