// libFuzzer target: the WAL's decoders must take any bytes. Every input either decodes or is
// rejected with kCorruption; nothing crashes, overreads or trips a sanitizer.
//   scripts/fuzz.sh [SECONDS]       (builds with the `fuzz` preset: clang 19, ASan + UBSan)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/mem_file_system.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"
#include "phase1_single_node/wal.h"

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

void CheckRejectedCleanly(const kv::Status& s) {
  Require(s.ok() || s.code() == kv::StatusCode::kCorruption, "error other than kCorruption");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. The record payload decoder, on raw bytes. A decoded record re-encodes to one that decodes
  //    to the same fields.
  auto record = kv::phase1::DecodeWalRecord(input);
  if (record) {
    if (record->type != kv::phase1::WalRecordType::kCommit) {
      std::string framed;
      std::optional<std::string> value;
      if (record->type == kv::phase1::WalRecordType::kPut) value.emplace(record->value);
      kv::phase1::Write w{std::string(record->key), value};
      kv::phase1::EncodeTransaction(framed, record->txn_id, record->commit_ts, {&w, 1});
      kv::phase1::RecordReader reader(framed, "re-encoded");
      Require(reader.Next() == kv::phase1::RecordReader::Outcome::kRecord, "re-encoded record");
      auto again = kv::phase1::DecodeWalRecord(reader.payload());
      Require(again.has_value(), "re-encoded record decodes");
      Require(again->type == record->type && again->txn_id == record->txn_id &&
                  again->commit_ts == record->commit_ts && again->key == record->key &&
                  again->value == record->value,
              "re-encoded record has the same fields");
    }
  } else {
    CheckRejectedCleanly(record.error());
  }

  // 2. The framing reader, over the input as a whole log file.
  kv::phase1::RecordReader reader(input, "fuzz.log");
  while (reader.Next() == kv::phase1::RecordReader::Outcome::kRecord) {
    auto r = kv::phase1::DecodeWalRecord(reader.payload());
    if (!r) CheckRejectedCleanly(r.error());
  }

  // 3. Replay of the input as the only segment of a store's log.
  auto fs = kv::NewMemFileSystem();
  Require(fs->CreateDirs("db").ok(), "mkdir");
  {
    auto file = fs->NewWritableFile("db/" + kv::phase1::WalSegmentName(1));
    Require(file.has_value() && (*file)->Append(input).ok(), "write segment");
  }
  auto replay = kv::phase1::ReplayWal(
      *fs, "db", {1}, 0, false,
      [](kv::phase1::Timestamp ts, std::span<const kv::phase1::Write> writes) {
        Require(ts > 0, "replayed timestamp is positive");
        for (const auto& w : writes) Require(!w.key.empty(), "replayed key is not empty");
        return kv::Status::Ok();
      });
  if (!replay) CheckRejectedCleanly(replay.error());
  return 0;
}
