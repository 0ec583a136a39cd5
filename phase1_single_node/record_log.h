// Framed, checksummed records: the container format of the write-ahead log and of checkpoints.
// The byte grammar is in docs/formats/wal.md; in short:
//
//   file      := record*
//   record    := length:fixed32  length_crc:fixed32  payload_crc:fixed32  payload[length]
//   length_crc  = Mask(CRC32C(the 4 bytes of length))
//   payload_crc = Mask(CRC32C(payload))
//
// The separate checksum on the length is what lets a reader tell a torn tail from corruption: a
// record whose header checks out but whose payload runs past the end of the file was cut short by
// a crash; a header or payload that fails its checksum was damaged after it was written.
//
// Thread safety: functions are pure; a RecordReader is owned by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kv::phase1 {

inline constexpr std::size_t kRecordHeaderBytes = 12;
// Records larger than this are rejected when read, whatever the length field says; it bounds the
// damage a corrupted length can do. (A transaction of 1 MiB values stays far below it.)
inline constexpr std::uint32_t kMaxRecordBytes = 256u << 20;

// Appends one framed record holding `payload` to `dst`.
void AppendRecord(std::string& dst, std::string_view payload);
// The same without a separate payload buffer: BeginRecord reserves the header at the end of
// `dst` and returns where it starts; the caller appends the payload to `dst`; FinishRecord fills
// in the header (length and CRCs) for everything appended since.
std::size_t BeginRecord(std::string& dst);
void FinishRecord(std::string& dst, std::size_t record_start);

// Reads the records of one file held in memory. Next() returns, in order:
//   * kRecord with the payload and its offset, for each intact record;
//   * kEnd at the exact end of the data;
//   * kTornTail if the data ends inside a record (an incomplete header, or a payload cut short),
//     or with a run of zero bytes where a header should be: room a log reserved ahead and never
//     filled (WritableFile::Reserve), or zeros a file system extended the file with and never
//     got to write (zero_tail() is then true). record_offset() says where the intact prefix
//     ends;
//   * kCorrupt (with status() = kCorruption naming `file_name` and the offset) for a record that
//     is complete but fails a checksum or whose length is impossible.
// With `reserved_tail` (the file may end in reserved room), a record that fails a checksum but
// runs into the zeros the file ends with is kTornTail too: a write the power cut short, over
// zeros that were already there. That reading needs records whose last byte is never zero (the
// log's commit records end in a non-zero varint): then a damaged record that ends before the
// trailing zeros is still kCorrupt. A flipped bit that zeroes the very last byte of the file
// looks exactly like such a cut and is reported as a torn tail.
class RecordReader {
 public:
  enum class Outcome { kRecord, kEnd, kTornTail, kCorrupt };

  // `data` must outlive the reader and the payloads it returns.
  RecordReader(std::string_view data, std::string file_name, bool reserved_tail = false);

  Outcome Next();
  std::string_view payload() const { return payload_; }
  // Offset of the record just returned (kRecord), or where the intact prefix ends (otherwise).
  std::uint64_t record_offset() const { return record_offset_; }
  const Status& status() const { return status_; }
  // After kTornTail: everything from record_offset() on is zero bytes.
  bool zero_tail() const { return zero_tail_; }

 private:
  std::string_view data_;
  std::string file_name_;
  bool reserved_tail_;
  // Where the run of zero bytes that ends the data starts (data_.size() if the last byte is not
  // zero).
  std::uint64_t zeros_from_;
  bool zero_tail_ = false;
  std::uint64_t pos_ = 0;
  std::uint64_t record_offset_ = 0;
  std::string_view payload_;
  Status status_;
};

}  // namespace kv::phase1
