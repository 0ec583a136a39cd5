#include "phase1_single_node/checkpoint.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"

namespace kv::phase1 {
namespace {

constexpr std::string_view kMagic = "KVCKPT01";
enum class CheckpointRecord : std::uint8_t { kHeader = 1, kEntries = 2, kFooter = 3 };
// Entries are grouped into records of about this many bytes: fewer headers and checksums to
// verify at recovery than one record per entry.
constexpr std::size_t kBatchBytes = 64 * 1024;

}  // namespace

Status WriteCheckpoint(FileSystem& fs, const std::string& dir, const VersionedEngine& engine,
                       Timestamp ts, std::uint64_t first_segment) {
  const std::string path = JoinPath(dir, CheckpointName(first_segment));
  const std::string tmp = path + ".tmp";
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(tmp));

  std::string out, payload;
  payload.push_back(static_cast<char>(CheckpointRecord::kHeader));
  payload.append(kMagic);
  AppendVarint64(payload, ts);
  AppendVarint64(payload, first_segment);
  AppendRecord(out, payload);

  std::uint64_t entries = 0;
  std::string batch;
  std::uint32_t batch_count = 0;
  auto flush_batch = [&]() -> Status {
    if (batch_count == 0) return Status::Ok();
    payload.clear();
    payload.push_back(static_cast<char>(CheckpointRecord::kEntries));
    AppendVarint32(payload, batch_count);
    payload.append(batch);
    AppendRecord(out, payload);
    batch.clear();
    batch_count = 0;
    KV_RETURN_IF_ERROR(file->Append(out));
    out.clear();
    return Status::Ok();
  };
  KV_RETURN_IF_ERROR(engine.ForEachVisible(ts, [&](std::string_view k, std::string_view v) {
    AppendLengthPrefixed(batch, k);
    AppendLengthPrefixed(batch, v);
    ++batch_count;
    ++entries;
    return batch.size() >= kBatchBytes ? flush_batch() : Status::Ok();
  }));
  KV_RETURN_IF_ERROR(flush_batch());
  payload.clear();
  payload.push_back(static_cast<char>(CheckpointRecord::kFooter));
  AppendVarint64(payload, entries);
  AppendRecord(out, payload);
  KV_RETURN_IF_ERROR(file->Append(out));
  KV_RETURN_IF_ERROR(file->Sync());
  KV_RETURN_IF_ERROR(file->Close());
  KV_RETURN_IF_ERROR(fs.Rename(tmp, path));
  return fs.SyncDir(dir);
}

Result<CheckpointInfo> ReadCheckpoint(
    FileSystem& fs, const std::string& path,
    const std::function<Status(const CheckpointInfo&)>& on_header,
    const std::function<Status(std::string_view, std::string_view)>& fn) {
  KV_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, fs.NewMappedFile(path));
  std::string copy;  // The file's bytes, when the file system does not map it.
  std::string_view data;
  if (auto mapped = file->mapped()) {
    data = *mapped;
  } else {
    KV_ASSIGN_OR_RETURN(copy, ReadFileToString(fs, path));
    data = copy;
  }
  RecordReader reader(data, path);
  CheckpointInfo info;
  bool header = false;
  auto corrupt = [&](std::string_view what) {
    return Status::Corruption(
        fmt::format("{}: {} at offset {}", path, what, reader.record_offset()));
  };
  while (true) {
    auto outcome = reader.Next();
    if (outcome == RecordReader::Outcome::kCorrupt) return reader.status();
    if (outcome != RecordReader::Outcome::kRecord) {
      // A checkpoint is synced before it gets its name: any missing bytes are damage.
      return corrupt("checkpoint ends before its footer");
    }
    Decoder d(reader.payload());
    KV_ASSIGN_OR_RETURN(std::uint8_t type, d.ReadFixed8());
    if (!header) {
      auto magic = d.ReadBytes(kMagic.size());
      if (type != static_cast<std::uint8_t>(CheckpointRecord::kHeader) || !magic ||
          *magic != kMagic) {
        return corrupt("bad checkpoint header");
      }
      auto ts = d.ReadVarint64();
      auto seg = d.ReadVarint64();
      if (!ts || !seg || !d.empty()) return corrupt("bad checkpoint header");
      info.ts = *ts;
      info.first_segment = *seg;
      header = true;
      KV_RETURN_IF_ERROR(on_header(info));
      continue;
    }
    if (type == static_cast<std::uint8_t>(CheckpointRecord::kEntries)) {
      auto count = d.ReadVarint32();
      if (!count) return corrupt("bad entry count");
      for (std::uint32_t i = 0; i < *count; ++i) {
        auto key = d.ReadLengthPrefixed();
        auto value = key ? d.ReadLengthPrefixed() : key;
        if (!key || !value || key->empty()) return corrupt("bad checkpoint entry");
        KV_RETURN_IF_ERROR(fn(*key, *value));
        ++info.entries;
      }
      if (!d.empty()) return corrupt("trailing bytes in checkpoint record");
      continue;
    }
    if (type == static_cast<std::uint8_t>(CheckpointRecord::kFooter)) {
      auto count = d.ReadVarint64();
      if (!count || *count != info.entries || !d.empty()) {
        return corrupt("checkpoint footer disagrees with its entries");
      }
      if (reader.Next() != RecordReader::Outcome::kEnd) return corrupt("data after footer");
      return info;
    }
    return corrupt(fmt::format("unknown checkpoint record type {}", type));
  }
}

}  // namespace kv::phase1
