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

RecordReader::RecordReader(std::string_view data, std::string file_name, bool reserved_tail)
    : data_(data), file_name_(std::move(file_name)), reserved_tail_(reserved_tail) {
  std::size_t n = data_.size();
  while (n > 0 && data_[n - 1] == '\0') --n;
  zeros_from_ = n;
}

RecordReader::Outcome RecordReader::Next() {
  record_offset_ = pos_;
  std::string_view rest = data_.substr(pos_);
  if (rest.empty()) return Outcome::kEnd;
  if (pos_ >= zeros_from_) {
    zero_tail_ = true;
    return Outcome::kTornTail;
  }
  if (rest.size() < kRecordHeaderBytes) return Outcome::kTornTail;

  auto length = LoadFixed<std::uint32_t>(rest.data());
  auto length_crc = crc32c::Unmask(LoadFixed<std::uint32_t>(rest.data() + 4));
  auto payload_crc = crc32c::Unmask(LoadFixed<std::uint32_t>(rest.data() + 8));
  // A record that fails a check but reaches into the trailing zeros is the start of a write
  // the power cut short: its other bytes are still the zeros the file held before.
  auto damaged = [&](std::uint64_t extent, std::string_view what) {
    if (reserved_tail_ && pos_ + extent > zeros_from_) return Outcome::kTornTail;
    status_ = Status::Corruption(
        fmt::format("{}: {} in record at offset {}", file_name_, what, record_offset_));
    return Outcome::kCorrupt;
  };
  if (crc32c::Value(rest.substr(0, 4)) != length_crc) {
    return damaged(kRecordHeaderBytes, "length checksum mismatch");
  }
  if (length > kMaxRecordBytes) {
    return damaged(kRecordHeaderBytes, fmt::format("record length {} too large", length));
  }
  if (rest.size() - kRecordHeaderBytes < length) return Outcome::kTornTail;
  std::string_view payload = rest.substr(kRecordHeaderBytes, length);
  if (crc32c::Value(payload) != payload_crc) {
    return damaged(kRecordHeaderBytes + length, "payload checksum mismatch");
  }
  payload_ = payload;
  pos_ += kRecordHeaderBytes + length;
  return Outcome::kRecord;
}

}  // namespace kv::phase1
