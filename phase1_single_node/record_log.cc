#include "phase1_single_node/record_log.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "common/encoding.h"

namespace kv::phase1 {

void AppendRecord(std::string& dst, std::string_view payload) {
  const std::size_t start = BeginRecord(dst);
  dst.append(payload);
  FinishRecord(dst, start);
}

std::size_t BeginRecord(std::string& dst) {
  const std::size_t start = dst.size();
  dst.append(kRecordHeaderBytes, '\0');
  return start;
}

void FinishRecord(std::string& dst, std::size_t record_start) {
  char* header = dst.data() + record_start;
  const std::string_view payload(header + kRecordHeaderBytes,
                                 dst.size() - record_start - kRecordHeaderBytes);
  StoreFixed(header, static_cast<std::uint32_t>(payload.size()));
  StoreFixed(header + 4, crc32c::Mask(crc32c::Value(std::string_view(header, 4))));
  StoreFixed(header + 8, crc32c::Mask(crc32c::Value(payload)));
}

RecordReader::Outcome RecordReader::Next() {
  record_offset_ = pos_;
  std::string_view rest = data_.substr(pos_);
  if (rest.empty()) return Outcome::kEnd;
  if (std::ranges::all_of(rest, [](char c) { return c == '\0'; })) return Outcome::kTornTail;
  if (rest.size() < kRecordHeaderBytes) return Outcome::kTornTail;

  auto length = LoadFixed<std::uint32_t>(rest.data());
  auto length_crc = crc32c::Unmask(LoadFixed<std::uint32_t>(rest.data() + 4));
  auto payload_crc = crc32c::Unmask(LoadFixed<std::uint32_t>(rest.data() + 8));
  auto corrupt = [&](std::string_view what) {
    status_ = Status::Corruption(
        fmt::format("{}: {} in record at offset {}", file_name_, what, record_offset_));
    return Outcome::kCorrupt;
  };
  if (crc32c::Value(rest.substr(0, 4)) != length_crc) return corrupt("length checksum mismatch");
  if (length > kMaxRecordBytes) return corrupt(fmt::format("record length {} too large", length));
  if (rest.size() - kRecordHeaderBytes < length) return Outcome::kTornTail;
  std::string_view payload = rest.substr(kRecordHeaderBytes, length);
  if (crc32c::Value(payload) != payload_crc) return corrupt("payload checksum mismatch");
  payload_ = payload;
  pos_ += kRecordHeaderBytes + length;
  return Outcome::kRecord;
}

}  // namespace kv::phase1
