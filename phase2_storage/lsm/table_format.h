// The framing of an SSTable file (docs/formats/sstable.md): where its blocks are, how each is
// checksummed, and the fixed-size footer at the end that locates the index and filter blocks.
//
//   table   := data_block* filter_block index_block footer
//   *_block := contents  crc:fixed32      (crc = masked CRC32C of contents)
//   footer  := filter:handle64  index:handle64  entries:fixed64  version:fixed32
//              footer_crc:fixed32  magic:fixed64                       (56 bytes)
//   handle64 := offset:fixed64 size:fixed64 (size excludes the crc)
//
// Inside the index block a block handle is written as two varints (handle := offset:varint64
// size:varint64) to keep the index small.
//
// Thread safety: plain functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"

namespace kv::storage::lsm {

inline constexpr std::uint64_t kTableMagic = 0x31656c6261747373;  // "sstable1" read little-endian.
inline constexpr std::uint32_t kTableFormatVersion = 1;
inline constexpr std::size_t kBlockTrailerSize = 4;  // The crc after every block.
inline constexpr std::size_t kFooterSize = 56;

struct BlockHandle {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // Of the contents, without the trailer.
  friend bool operator==(const BlockHandle&, const BlockHandle&) = default;
};

// Varint form, for index entries.
void EncodeBlockHandle(std::string& dst, const BlockHandle& handle);
// kCorruption (without file context; the caller adds it) if `src` is not exactly one handle.
Result<BlockHandle> DecodeBlockHandle(std::string_view src);

struct Footer {
  BlockHandle filter;  // size 0: the table has no filter.
  BlockHandle index;
  std::uint64_t entries = 0;
  std::uint32_t version = kTableFormatVersion;
};

std::string EncodeFooter(const Footer& footer);
// Checks size, magic, version and the footer's own crc; errors name `path` and the footer's
// offset in it.
Result<Footer> DecodeFooter(std::string_view bytes, const std::string& path,
                            std::uint64_t footer_offset);

// Appends a block's trailer (its masked crc) to `dst`, which holds the block's contents.
void AppendBlockTrailer(std::string& dst, std::string_view contents);

// Reads the block at `handle` and verifies its checksum. kCorruption naming `path` and the
// block's offset if the bytes do not match, or if the block lies past the end of the file.
//
// Returns a view of the block's contents (without the trailer): into the file's mapping if it
// has one (RandomAccessFile::mapped(), no copy), else into `scratch`, which it fills. The view
// lives as long as the file handle, or as `scratch` is left alone. The checksum is verified on
// every call, also over a mapping: bytes verified once are not assumed to stay the same.
Result<std::string_view> ReadBlock(const RandomAccessFile& file, const std::string& path,
                                   const BlockHandle& handle, std::string& scratch);
// As above, into a string of its own.
Result<std::string> ReadBlock(const RandomAccessFile& file, const std::string& path,
                              const BlockHandle& handle);

}  // namespace kv::storage::lsm
