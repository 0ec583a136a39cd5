#include "phase2_storage/lsm/table_format.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "common/encoding.h"

namespace kv::storage::lsm {

void EncodeBlockHandle(std::string& dst, const BlockHandle& handle) {
  AppendVarint64(dst, handle.offset);
  AppendVarint64(dst, handle.size);
}

Result<BlockHandle> DecodeBlockHandle(std::string_view src) {
  Decoder d(src);
  BlockHandle h;
  KV_ASSIGN_OR_RETURN(h.offset, d.ReadVarint64());
  KV_ASSIGN_OR_RETURN(h.size, d.ReadVarint64());
  if (!d.empty()) {
    return Status::Corruption(fmt::format("{} bytes after a block handle", d.remaining()));
  }
  return h;
}

std::string EncodeFooter(const Footer& footer) {
  std::string out;
  AppendFixed64(out, footer.filter.offset);
  AppendFixed64(out, footer.filter.size);
  AppendFixed64(out, footer.index.offset);
  AppendFixed64(out, footer.index.size);
  AppendFixed64(out, footer.entries);
  AppendFixed32(out, footer.version);
  AppendFixed32(out, crc32c::Mask(crc32c::Value(out)));
  AppendFixed64(out, kTableMagic);
  return out;
}

Result<Footer> DecodeFooter(std::string_view bytes, const std::string& path,
                            std::uint64_t footer_offset) {
  auto bad = [&](std::string_view what) {
    return Status::Corruption(
        fmt::format("{}: {} in the table footer at offset {}", path, what, footer_offset));
  };
  if (bytes.size() != kFooterSize) return bad(fmt::format("{} bytes instead of 56", bytes.size()));
  if (LoadFixed<std::uint64_t>(bytes.data() + 48) != kTableMagic) {
    return bad("bad magic number (not an SSTable, or its end was cut off)");
  }
  const std::uint32_t stored = crc32c::Unmask(LoadFixed<std::uint32_t>(bytes.data() + 44));
  if (stored != crc32c::Value(bytes.substr(0, 44))) return bad("checksum mismatch");
  Footer f;
  f.filter.offset = LoadFixed<std::uint64_t>(bytes.data());
  f.filter.size = LoadFixed<std::uint64_t>(bytes.data() + 8);
  f.index.offset = LoadFixed<std::uint64_t>(bytes.data() + 16);
  f.index.size = LoadFixed<std::uint64_t>(bytes.data() + 24);
  f.entries = LoadFixed<std::uint64_t>(bytes.data() + 32);
  f.version = LoadFixed<std::uint32_t>(bytes.data() + 40);
  if (f.version != kTableFormatVersion) {
    return bad(
        fmt::format("format version {} (this build reads {})", f.version, kTableFormatVersion));
  }
  return f;
}

void AppendBlockTrailer(std::string& dst, std::string_view contents) {
  AppendFixed32(dst, crc32c::Mask(crc32c::Value(contents)));
}

Result<std::string_view> ReadBlock(const RandomAccessFile& file, const std::string& path,
                                   const BlockHandle& handle, std::string& scratch) {
  if (handle.size > (std::uint64_t{1} << 32)) {
    return Status::Corruption(
        fmt::format("{}: block at offset {} claims {} bytes", path, handle.offset, handle.size));
  }
  const std::uint64_t length = handle.size + kBlockTrailerSize;
  std::string_view bytes;
  if (const auto mapping = file.mapped()) {
    const std::uint64_t available =
        handle.offset < mapping->size() ? mapping->size() - handle.offset : 0;
    bytes = mapping->substr(std::min<std::uint64_t>(handle.offset, mapping->size()),
                            std::min(length, available));
  } else {
    // Not zero-filled first: every byte is either read or the block is rejected below.
    Status read_status;
    scratch.resize_and_overwrite(length, [&](char* p, std::size_t) {
      auto got = file.Read(handle.offset, std::span<char>(p, length));
      if (!got) {
        read_status = got.error();
        return std::size_t{0};
      }
      return *got;
    });
    KV_RETURN_IF_ERROR(read_status);
    bytes = scratch;
  }
  if (bytes.size() != length) {
    return Status::Corruption(
        fmt::format("{}: block at offset {} of {} bytes runs past the end of "
                    "the file ({} bytes read)",
                    path, handle.offset, length, bytes.size()));
  }
  const std::string_view contents = bytes.substr(0, handle.size);
  const std::uint32_t stored = crc32c::Unmask(LoadFixed<std::uint32_t>(bytes.data() + handle.size));
  if (stored != crc32c::Value(contents)) {
    return Status::Corruption(fmt::format("{}: checksum mismatch in block at offset {} ({} bytes)",
                                          path, handle.offset, handle.size));
  }
  return contents;
}

Result<std::string> ReadBlock(const RandomAccessFile& file, const std::string& path,
                              const BlockHandle& handle) {
  std::string scratch;
  KV_ASSIGN_OR_RETURN(std::string_view contents, ReadBlock(file, path, handle, scratch));
  if (contents.data() != scratch.data()) return std::string(contents);
  scratch.resize(contents.size());  // Drops the trailer.
  return scratch;
}

}  // namespace kv::storage::lsm
