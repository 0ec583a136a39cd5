// Tests of SSTables (phase2_storage/lsm/table_builder.h, table.h and table_format.h; the format
// is docs/formats/sstable.md), written to and read from a MemFileSystem. Table reads data blocks
// either with pread or from a mapping of the file; the property and the corruption tests run on
// both (ReadPath):
//   * model-based: random user keys with several versions each (random sequences, some
//     tombstones) and random TableOptions (block size 64..4096, restart interval 1..16, bloom bits
//     0 or 10) are built into a table and opened; a full scan equals the model in internal-key
//     order, Get(k, s) returns exactly the newest version of k at or before s (nullopt for absent
//     keys and for reads older than every version), Seek lands on the model's lower_bound, the
//     builder's entries/smallest/largest/FileSize and the table's entries/file_size agree, the
//     filter never rejects a present key and has the documented size, and data blocks are cut at
//     the configured size;
//   * a flipped bit at EVERY byte offset of a small table with a filter: a flip in the footer,
//     index or filter fails Open with kCorruption naming the file and that part's offset; a flip
//     in a data block leaves Open working, and exactly the reads that touch that block fail with
//     kCorruption naming the file and the block's offset, while every other read is correct;
//   * every truncation of the file fails Open with kCorruption naming the file, also when Open is
//     given the size the file had before (as the manifest would);
//   * damage that passes the checksums (a buggy writer): malformed data or index blocks, index
//     handles outside the data blocks, footer handles past the table (including sizes that wrap
//     around 2^64) are kCorruption naming the file and the part that holds the bad value;
//   * table_format.h on its own: ReadBlock's checksum and bounds, the footer's checksum over
//     every bit, block handles;
//   * the read faults of a FaultInjectionFileSystem (a wrong bit, a failed read) reach a table
//     opened through the table cache, and are reported, never cached;
//   * the bloom filter: Get of an absent key usually answers from the filter without reading
//     (and so without noticing a damaged data block);
//   * a table with no entries opens and iterates as empty; keys out of order abort the builder.
#include "phase2_storage/lsm/table.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>

#include "common/check.h"
#include "common/encoding.h"
#include "common/fault_file_system.h"
#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/lsm/block.h"
#include "phase2_storage/lsm/block_builder.h"
#include "phase2_storage/lsm/block_cache.h"
#include "phase2_storage/lsm/internal_key.h"
#include "phase2_storage/lsm/table_builder.h"
#include "phase2_storage/lsm/table_cache.h"
#include "phase2_storage/lsm/table_format.h"

namespace kv::storage::lsm {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kDir = "/db";
constexpr std::string_view kPath = "/db/000123.sst";

// --- the model ---

struct Version {
  std::string user_key;
  SequenceNumber sequence = 0;
  EntryKind kind = EntryKind::kValue;
  std::string value;  // Empty for a tombstone.

  std::string InternalKey() const { return MakeInternalKey(user_key, sequence, kind); }
};

bool BytesLess(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  });
}

// Internal-key order from the fields (docs/formats/sstable.md §2), without the code under test.
bool ModelLess(const Version& a, const Version& b) {
  if (a.user_key != b.user_key) return BytesLess(a.user_key, b.user_key);
  if (a.sequence != b.sequence) return a.sequence > b.sequence;
  return a.kind > b.kind;
}

// The newest version of `user_key` at or before `sequence`.
std::optional<Version> ModelGet(const std::vector<Version>& model, std::string_view user_key,
                                SequenceNumber sequence) {
  std::optional<Version> best;
  for (const Version& v : model) {
    if (v.user_key == user_key && v.sequence <= sequence &&
        (!best || v.sequence > best->sequence)) {
      best = v;
    }
  }
  return best;
}

// Index of the first model entry not before (user_key, sequence, kind).
std::size_t ModelLowerBound(const std::vector<Version>& model, const Version& target) {
  return static_cast<std::size_t>(std::ranges::lower_bound(model, target, ModelLess) -
                                  model.begin());
}

// --- helpers ---

struct Built {
  std::uint64_t entries = 0;
  std::string smallest;
  std::string largest;
  std::uint64_t file_size = 0;
  bool bounds_tracked = true;  // smallest() and largest() were right after every Add.
};

// Writes `sorted` (in model order) as a table at `path`.
Result<Built> WriteTable(FileSystem& fs, const std::string& path, const TableOptions& options,
                         const std::vector<Version>& sorted) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(path));
  TableBuilder builder(options, *file, path);
  Built built;
  for (const Version& v : sorted) {
    const std::string key = v.InternalKey();
    KV_RETURN_IF_ERROR(builder.Add(key, v.value));
    // smallest() and largest() hold after every Add, not only after Finish.
    if (builder.smallest() != sorted.front().InternalKey() || builder.largest() != key) {
      built.bounds_tracked = false;
    }
  }
  KV_RETURN_IF_ERROR(builder.Finish());
  built.entries = builder.entries();
  if (built.entries > 0) {
    built.smallest = std::string(builder.smallest());
    built.largest = std::string(builder.largest());
  }
  built.file_size = builder.FileSize();
  KV_RETURN_IF_ERROR(file->Close());
  return built;
}

// The two ways Table reads data blocks (table.h): with pread into memory, or from a mapping of
// the file (MemFileSystem's NewMappedFile maps, so both run without a disk).
enum class ReadPath { kPread, kMapped };
constexpr ReadPath kReadPaths[] = {ReadPath::kPread, ReadPath::kMapped};
const char* ReadPathName(ReadPath read) { return read == ReadPath::kMapped ? "mapped" : "pread"; }

Result<std::unique_ptr<Table>> OpenTable(FileSystem& fs, const std::string& path,
                                         std::optional<std::uint64_t> size = std::nullopt,
                                         ReadPath read = ReadPath::kPread) {
  KV_ASSIGN_OR_RETURN(const std::uint64_t actual, fs.FileSize(path));
  KV_ASSIGN_OR_RETURN(
      auto file, read == ReadPath::kMapped ? fs.NewMappedFile(path) : fs.NewRandomAccessFile(path));
  KV_ASSIGN_OR_RETURN(auto table, Table::Open(std::move(file), path, size.value_or(actual)));
  KV_CHECK(table->mapped() == (read == ReadPath::kMapped), "the table reads the wrong way");
  return table;
}

Status WriteWholeFile(FileSystem& fs, const std::string& path, std::string_view data) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(path));
  KV_RETURN_IF_ERROR(file->Append(data));
  return file->Close();
}

std::unique_ptr<FileSystem> NewFsWithDir() {
  auto fs = NewMemFileSystem();
  KV_CHECK(fs->CreateDirs(std::string(kDir)).ok(), "CreateDirs");
  return fs;
}

// Where a table's parts are, read through the format's own pieces (footer, index block).
struct DataBlock {
  std::string last_key;
  BlockHandle handle;
};
struct Layout {
  std::uint64_t size = 0;
  Footer footer;
  std::vector<DataBlock> blocks;
};

Result<Layout> ReadLayout(FileSystem& fs, const std::string& path) {
  Layout layout;
  KV_ASSIGN_OR_RETURN(layout.size, fs.FileSize(path));
  KV_ASSIGN_OR_RETURN(auto file, fs.NewRandomAccessFile(path));
  KV_ASSIGN_OR_RETURN(const std::string bytes, ReadFileToString(fs, path));
  const std::uint64_t footer_offset = layout.size - kFooterSize;
  KV_ASSIGN_OR_RETURN(layout.footer, DecodeFooter(std::string_view(bytes).substr(footer_offset),
                                                  path, footer_offset));
  KV_ASSIGN_OR_RETURN(std::string index_bytes, ReadBlock(*file, path, layout.footer.index));
  KV_ASSIGN_OR_RETURN(auto index, Block::Parse(std::move(index_bytes), "index"));
  auto it = Block::NewIterator(index, CompareInternalKeys, kTrailerSize);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KV_ASSIGN_OR_RETURN(const BlockHandle handle, DecodeBlockHandle(it->value()));
    layout.blocks.push_back({std::string(it->key()), handle});
  }
  KV_RETURN_IF_ERROR(it->status());
  return layout;
}

std::vector<std::pair<std::string, std::string>> Expected(const std::vector<Version>& model,
                                                          std::size_t end) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < end; ++i) out.emplace_back(model[i].InternalKey(), model[i].value);
  return out;
}

// --- generators ---

rc::Gen<std::string> GenUserKey() {
  const auto byte = rc::gen::element<char>('a', 'b', '\0', '\x7f', '\x80', '\xff');
  auto short_key = rc::gen::mapcat(rc::gen::inRange(1, 6), [byte](int n) {
    return rc::gen::container<std::string>(static_cast<std::size_t>(n), byte);
  });
  auto numbered =
      rc::gen::map(rc::gen::inRange(0, 100000), [](int i) { return fmt::format("user{:08}", i); });
  auto long_prefix =
      rc::gen::map(short_key, [](const std::string& s) { return std::string(150, 'p') + s; });
  return rc::gen::oneOf(short_key, numbered, long_prefix, rc::gen::nonEmpty<std::string>());
}

rc::Gen<SequenceNumber> GenSequence() {
  return rc::gen::weightedOneOf<SequenceNumber>(
      {{8, rc::gen::inRange<SequenceNumber>(1, 300)},
       {1, rc::gen::inRange<SequenceNumber>(kMaxSequenceNumber - 3, kMaxSequenceNumber + 1)}});
}

rc::Gen<std::string> GenValue() {
  return rc::gen::oneOf(rc::gen::just(std::string()), rc::gen::arbitrary<std::string>(),
                        rc::gen::mapcat(rc::gen::inRange<std::size_t>(128, 400), [](std::size_t n) {
                          return rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
                        }));
}

// Distinct user keys, each with 1..4 versions of distinct sequences, sorted in model order.
std::vector<Version> GenModel() {
  const auto user_keys = *rc::gen::unique<std::vector<std::string>>(GenUserKey());
  std::vector<Version> model;
  for (const std::string& user_key : user_keys) {
    const int versions = *rc::gen::inRange(1, 5);
    std::set<SequenceNumber> sequences;
    while (sequences.size() < static_cast<std::size_t>(versions)) sequences.insert(*GenSequence());
    for (SequenceNumber s : sequences) {
      Version v{user_key, s, EntryKind::kValue, ""};
      if (*rc::gen::weightedElement<bool>({{1, true}, {3, false}})) {
        v.kind = EntryKind::kDelete;
      } else {
        v.value = *GenValue();
      }
      model.push_back(std::move(v));
    }
  }
  std::ranges::sort(model, ModelLess);
  return model;
}

// --- model-based property ---

RC_GTEST_PROP(TableProperty, RandomVersionsAndOptions_ScanGetSeekMatchModel, ()) {
  const std::vector<Version> model = GenModel();
  TableOptions options;
  options.block_size = *rc::gen::inRange<std::size_t>(64, 4097);
  options.restart_interval = *rc::gen::inRange(1, 17);
  options.bloom_bits_per_key = *rc::gen::element(0, 10);
  RC_TAG(options.bloom_bits_per_key, model.empty());

  auto fs = NewFsWithDir();
  const std::string path(kPath);
  const auto built = WriteTable(*fs, path, options, model);
  RC_ASSERT(built.has_value());
  // (d) What the builder reports.
  RC_ASSERT(built->entries == model.size());
  RC_ASSERT(built->bounds_tracked);
  if (!model.empty()) {
    RC_ASSERT(built->smallest == model.front().InternalKey());
    RC_ASSERT(built->largest == model.back().InternalKey());
  }
  const auto file_size = fs->FileSize(path);
  RC_ASSERT(file_size.has_value());
  RC_ASSERT(built->file_size == *file_size);

  const ReadPath read = *rc::gen::element(ReadPath::kPread, ReadPath::kMapped);
  RC_TAG(ReadPathName(read));
  auto table = OpenTable(*fs, path, std::nullopt, read);
  RC_ASSERT(table.has_value());
  const Table& t = **table;
  RC_ASSERT(t.entries() == model.size());
  RC_ASSERT(t.file_size() == *file_size);
  RC_ASSERT(t.path() == path);

  // Data blocks tile the start of the file, and each but the last reached block_size and stopped
  // within one entry of it.
  const auto layout = ReadLayout(*fs, path);
  RC_ASSERT(layout.has_value());
  std::size_t largest_entry = 0;
  for (const Version& v : model) {
    largest_entry = std::max(largest_entry, v.user_key.size() + kTrailerSize + v.value.size());
  }
  std::uint64_t next_offset = 0;
  for (std::size_t i = 0; i < layout->blocks.size(); ++i) {
    const BlockHandle& h = layout->blocks[i].handle;
    RC_ASSERT(h.offset == next_offset);
    next_offset = h.offset + h.size + kBlockTrailerSize;
    if (i + 1 < layout->blocks.size()) {
      RC_ASSERT(h.size >= options.block_size);
      RC_ASSERT(h.size < options.block_size + largest_entry + 3 * 5 + 4);
    }
  }
  RC_ASSERT(layout->blocks.empty() == model.empty());
  // The filter has m = max(64, distinct user keys * bits per key) bits, rounded up to bytes, and
  // the probe count (docs/formats/sstable.md §5): versions of one key are counted once.
  if (options.bloom_bits_per_key == 0) {
    RC_ASSERT(layout->footer.filter.size == 0u);
  } else {
    std::set<std::string> distinct;
    for (const Version& v : model) distinct.insert(v.user_key);
    const std::uint64_t bits = std::max<std::uint64_t>(64, distinct.size() * 10);
    RC_ASSERT(layout->footer.filter.size == (bits + 7) / 8 + 1);
  }
  RC_ASSERT(t.MemoryUsage() >= layout->footer.filter.size + layout->footer.index.size);

  // (a) A full scan is the model, in order.
  auto it = t.NewIterator();
  RC_ASSERT(!it->Valid());
  std::vector<std::pair<std::string, std::string>> scanned;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    scanned.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  RC_ASSERT(it->status().ok());
  RC_ASSERT(scanned == Expected(model, model.size()));

  // (b) Get as of many sequences, for present and absent keys.
  std::set<std::string> present;
  for (const Version& v : model) present.insert(v.user_key);
  std::vector<std::string> probe_keys(present.begin(), present.end());
  for (const std::string& k : present) {
    // Neighbours that share a prefix with a present key.
    for (std::string near : {k + '\0', k + "a", k.substr(0, k.size() - 1)}) {
      if (!near.empty() && !present.contains(near)) probe_keys.push_back(near);
    }
  }
  for (const auto& k : *rc::gen::container<std::vector<std::string>>(GenUserKey())) {
    probe_keys.push_back(k);
  }
  for (const std::string& k : probe_keys) {
    std::set<SequenceNumber> sequences = {0, 1, kMaxSequenceNumber, *GenSequence()};
    for (const Version& v : model) {
      if (v.user_key != k) continue;
      sequences.insert(v.sequence);
      if (v.sequence > 0) sequences.insert(v.sequence - 1);
      if (v.sequence < kMaxSequenceNumber) sequences.insert(v.sequence + 1);
    }
    if (present.contains(k)) RC_ASSERT(t.MayContain(k));
    for (SequenceNumber s : sequences) {
      const auto got = t.Get(LookupKey(k, s));
      RC_ASSERT(got.has_value());
      const auto expected = ModelGet(model, k, s);
      RC_ASSERT(got->has_value() == expected.has_value());
      if (expected) {
        RC_ASSERT((*got)->kind == expected->kind);
        RC_ASSERT((*got)->sequence == expected->sequence);
        RC_ASSERT((*got)->value == expected->value);
      }
    }
  }

  // (c) Seek to internal keys lands on lower_bound, and Next continues in order.
  std::vector<Version> targets = model;
  const auto extra = *rc::gen::container<std::vector<std::pair<std::string, SequenceNumber>>>(
      rc::gen::pair(rc::gen::elementOf(probe_keys), GenSequence()));
  for (const auto& [k, s] : extra) {
    targets.push_back({k, s, EntryKind::kValue, ""});
    targets.push_back({k, s, EntryKind::kDelete, ""});
  }
  auto seeker = t.NewIterator();
  for (const Version& target : targets) {
    seeker->Seek(target.InternalKey());
    const std::size_t expected = ModelLowerBound(model, target);
    if (expected == model.size()) {
      RC_ASSERT(!seeker->Valid());
    } else {
      RC_ASSERT(seeker->Valid());
      RC_ASSERT(seeker->key() == model[expected].InternalKey());
      RC_ASSERT(seeker->value() == model[expected].value);
      seeker->Next();
      if (expected + 1 == model.size()) {
        RC_ASSERT(!seeker->Valid());
      } else {
        RC_ASSERT(seeker->Valid());
        RC_ASSERT(seeker->key() == model[expected + 1].InternalKey());
      }
    }
    RC_ASSERT(seeker->status().ok());
  }
}

// --- corruption ---

// 24 user keys, two versions each (every third newest version a tombstone), in blocks of about
// 128 bytes, with a filter: a table of about 2.5 KB and a dozen data blocks.
std::vector<Version> SmallModel() {
  std::vector<Version> model;
  for (int i = 0; i < 24; ++i) {
    const std::string key = fmt::format("key{:03}", i * 2);  // Odd numbers are absent.
    const auto newer = static_cast<SequenceNumber>(100 + i);
    if (i % 3 == 0) {
      model.push_back({key, newer, EntryKind::kDelete, ""});
    } else {
      model.push_back({key, newer, EntryKind::kValue, fmt::format("new value of {}", key)});
    }
    model.push_back({key, static_cast<SequenceNumber>(10 + i), EntryKind::kValue,
                     fmt::format("old value of {}", key)});
  }
  std::ranges::sort(model, ModelLess);
  return model;
}

TableOptions SmallOptions() {
  TableOptions options;
  options.block_size = 128;
  options.restart_interval = 4;
  options.bloom_bits_per_key = 10;
  return options;
}

void ExpectCorruptionNaming(const Status& status, std::uint64_t offset) {
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(std::string(kPath)));
  EXPECT_THAT(status.message(), HasSubstr(fmt::format("offset {}", offset)));
}

TEST(TableCorruption, FlippedBitAtEveryOffset_CorruptionNamingFileAndOffsetNeverWrongAnswer) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  const std::vector<Version> model = SmallModel();
  ASSERT_OK(WriteTable(*fs, path, SmallOptions(), model));
  ASSERT_OK_AND_ASSIGN(const std::string pristine, ReadFileToString(*fs, path));
  ASSERT_OK_AND_ASSIGN(const Layout layout, ReadLayout(*fs, path));
  ASSERT_GE(layout.blocks.size(), 8u);
  ASSERT_GT(layout.footer.filter.size, 0u);
  const std::uint64_t data_end = layout.footer.filter.offset;
  const std::uint64_t footer_offset = pristine.size() - kFooterSize;
  ASSERT_EQ(
      layout.blocks.back().handle.offset + layout.blocks.back().handle.size + kBlockTrailerSize,
      data_end);
  ASSERT_EQ(layout.footer.index.offset + layout.footer.index.size + kBlockTrailerSize,
            footer_offset);

  // The first model entry of each data block, and the block a lookup for `key` reads: the first
  // whose last key is not before it (blocks.size() if none).
  auto block_of = [&](std::string_view internal_key) {
    std::size_t b = 0;
    while (b < layout.blocks.size() &&
           CompareInternalKeys(layout.blocks[b].last_key, internal_key) < 0) {
      ++b;
    }
    return b;
  };
  std::vector<std::size_t> first_entry(layout.blocks.size() + 1, model.size());
  for (std::size_t i = model.size(); i-- > 0;) first_entry[block_of(model[i].InternalKey())] = i;

  // Lookups: each present key at a read sequence that sees the newer, the older, and no version;
  // and absent keys in between.
  struct Lookup {
    std::string user_key;
    SequenceNumber sequence;
  };
  std::vector<Lookup> lookups;
  for (int i = 0; i < 49; ++i) {
    const std::string key = fmt::format("key{:03}", i);
    for (SequenceNumber s : {kMaxSequenceNumber, SequenceNumber{50}, SequenceNumber{5}}) {
      lookups.push_back({key, s});
    }
  }

  for (const ReadPath read : kReadPaths) {
    SCOPED_TRACE(ReadPathName(read));
    for (std::uint64_t offset = 0; offset < pristine.size(); ++offset) {
      SCOPED_TRACE(
          fmt::format("bit {} of byte {} (data ends at {}, filter at {}, index at {}, "
                      "footer at {})",
                      offset % 8, offset, data_end, layout.footer.filter.offset,
                      layout.footer.index.offset, footer_offset));
      std::string bad = pristine;
      bad[offset] = static_cast<char>(bad[offset] ^ (1 << (offset % 8)));
      ASSERT_OK(WriteWholeFile(*fs, path, bad));
      auto table = OpenTable(*fs, path, std::nullopt, read);

      if (offset >= data_end) {
        // Filter, index or footer: Open reads them all and must refuse.
        ASSERT_FALSE(table.has_value()) << "Open accepted a table damaged outside its data blocks";
        const std::uint64_t part = offset >= footer_offset ? footer_offset
                                   : offset >= layout.footer.index.offset
                                       ? layout.footer.index.offset
                                       : data_end;
        ExpectCorruptionNaming(table.error(), part);
        if (HasFailure()) break;
        continue;
      }

      // A data block: Open does not read it, so it succeeds; the reads that touch the block fail.
      ASSERT_TRUE(table.has_value()) << table.error().ToString();
      std::size_t damaged = 0;
      while (offset >= layout.blocks[damaged].handle.offset + layout.blocks[damaged].handle.size +
                           kBlockTrailerSize) {
        ++damaged;
      }
      const std::uint64_t block_offset = layout.blocks[damaged].handle.offset;

      // The scan yields every entry before the damaged block, then stops with the error.
      auto it = (*table)->NewIterator();
      std::vector<std::pair<std::string, std::string>> scanned;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        scanned.emplace_back(std::string(it->key()), std::string(it->value()));
      }
      EXPECT_EQ(scanned, Expected(model, first_entry[damaged]));
      ExpectCorruptionNaming(it->status(), block_offset);

      for (const Lookup& lookup : lookups) {
        SCOPED_TRACE(fmt::format("Get({}, {})", lookup.user_key, lookup.sequence));
        const LookupKey key(lookup.user_key, lookup.sequence);
        const auto got = (*table)->Get(key);
        const auto expected = ModelGet(model, lookup.user_key, lookup.sequence);
        const bool present = std::ranges::any_of(
            model, [&](const Version& v) { return v.user_key == lookup.user_key; });
        if (block_of(key.internal_key()) == damaged && present) {
          // The answer (or the proof there is none) is in the damaged block.
          ASSERT_FALSE(got.has_value()) << "a read of the damaged block succeeded";
          ExpectCorruptionNaming(got.error(), block_offset);
        } else if (!got.has_value()) {
          // An absent key the filter let through may land in the damaged block too.
          EXPECT_FALSE(present);
          EXPECT_EQ(block_of(key.internal_key()), damaged);
          ExpectCorruptionNaming(got.error(), block_offset);
        } else {
          ASSERT_EQ(got->has_value(), expected.has_value());
          if (expected) {
            EXPECT_EQ((*got)->kind, expected->kind);
            EXPECT_EQ((*got)->sequence, expected->sequence);
            EXPECT_EQ((*got)->value, expected->value);
          }
        }
      }
      if (HasFailure()) break;
    }
  }
}

TEST(TableCorruption, EveryTruncation_OpenIsCorruptionNamingFile) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  ASSERT_OK(WriteTable(*fs, path, SmallOptions(), SmallModel()));
  ASSERT_OK_AND_ASSIGN(const std::string pristine, ReadFileToString(*fs, path));
  for (const ReadPath read : kReadPaths) {
    SCOPED_TRACE(ReadPathName(read));
    for (std::size_t length = 0; length < pristine.size(); ++length) {
      SCOPED_TRACE(length);
      ASSERT_OK(WriteWholeFile(*fs, path, std::string_view(pristine).substr(0, length)));
      // The file system's size, as after a crash that cut the file.
      auto table = OpenTable(*fs, path, std::nullopt, read);
      ASSERT_FALSE(table.has_value());
      EXPECT_EQ(table.error().code(), StatusCode::kCorruption) << table.error().ToString();
      EXPECT_THAT(table.error().message(), HasSubstr(path));
      // The size the manifest recorded before the file was cut.
      auto stale = OpenTable(*fs, path, pristine.size(), read);
      ASSERT_FALSE(stale.has_value());
      EXPECT_EQ(stale.error().code(), StatusCode::kCorruption) << stale.error().ToString();
      EXPECT_THAT(stale.error().message(), HasSubstr(path));
      if (HasFailure()) break;
    }
  }
}

// Replaces the block at `handle` in `file` by `contents` of the same size, with a valid checksum:
// what a buggy writer could have produced.
void ReplaceBlock(std::string& file, const BlockHandle& handle, std::string_view contents) {
  KV_CHECK(contents.size() == handle.size, "same size only");
  std::string block(contents);
  AppendBlockTrailer(block, contents);
  file.replace(handle.offset, block.size(), block);
}

// Blocks that pass their checksum but are malformed inside are reported as corruption of that
// block, at Open for the index and at the read that touches it for a data block.
TEST(TableCorruption, MalformedBlockWithValidChecksum_CorruptionNamingFileAndBlock) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  const std::vector<Version> model = SmallModel();
  ASSERT_OK(WriteTable(*fs, path, SmallOptions(), model));
  ASSERT_OK_AND_ASSIGN(const std::string pristine, ReadFileToString(*fs, path));
  ASSERT_OK_AND_ASSIGN(const Layout layout, ReadLayout(*fs, path));
  ASSERT_GE(layout.blocks.size(), 3u);
  const BlockHandle data = layout.blocks[1].handle;
  const std::string contents = pristine.substr(data.offset, data.size);
  // The model entries of block 1: those after block 0's last key, up to block 1's.
  std::size_t begin = 0;
  while (CompareInternalKeys(model[begin].InternalKey(), layout.blocks[0].last_key) <= 0) ++begin;

  const std::size_t restarts = LoadFixed<std::uint32_t>(contents.data() + contents.size() - 4);
  ASSERT_EQ(contents[0], '\0') << "the first entry shares nothing";

  struct Case {
    const char* what;
    std::size_t pos;  // In the block's contents.
    char byte;
  };
  const Case cases[] = {
      // Block::Parse fails.
      {"restart count far too large", contents.size() - 2, '\x7f'},
      {"first restart not at 0", contents.size() - 4 - 4 * restarts, '\x01'},
      // The block's iterator fails.
      {"first entry shares a prefix with nothing", 0, '\x01'},
  };
  for (const ReadPath read : kReadPaths) {
    SCOPED_TRACE(ReadPathName(read));
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what);
      std::string bad_contents = contents;
      bad_contents[c.pos] = c.byte;
      std::string bad = pristine;
      ReplaceBlock(bad, data, bad_contents);
      ASSERT_OK(WriteWholeFile(*fs, path, bad));
      ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs, path, std::nullopt, read));
      auto it = table->NewIterator();
      std::vector<std::pair<std::string, std::string>> scanned;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        scanned.emplace_back(std::string(it->key()), std::string(it->value()));
      }
      EXPECT_EQ(scanned, Expected(model, begin));
      ExpectCorruptionNaming(it->status(), data.offset);
      // The first version in block 1 (newer versions of its key may end block 0).
      const auto got = table->Get(LookupKey(model[begin].user_key, model[begin].sequence));
      ASSERT_FALSE(got.has_value());
      ExpectCorruptionNaming(got.error(), data.offset);
      // Blocks before and after still answer.
      ASSERT_OK_AND_ASSIGN(const auto first,
                           table->Get(LookupKey(model.front().user_key, kMaxSequenceNumber)));
      EXPECT_TRUE(first.has_value());
    }

    // The index block, malformed the same way: Open refuses.
    const BlockHandle index = layout.footer.index;
    std::string index_contents = pristine.substr(index.offset, index.size);
    index_contents[index.size - 2] = '\x7f';
    std::string bad = pristine;
    ReplaceBlock(bad, index, index_contents);
    ASSERT_OK(WriteWholeFile(*fs, path, bad));
    auto table = OpenTable(*fs, path, std::nullopt, read);
    ASSERT_FALSE(table.has_value());
    ExpectCorruptionNaming(table.error(), index.offset);
  }
}

// The small table, written and laid out, for tests that rewrite parts of it.
class SmallTableCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(WriteTable(*fs_, path_, SmallOptions(), model_));
    ASSERT_OK_AND_ASSIGN(pristine_, ReadFileToString(*fs_, path_));
    ASSERT_OK_AND_ASSIGN(layout_, ReadLayout(*fs_, path_));
    footer_offset_ = pristine_.size() - kFooterSize;
  }

  // Rewrites the table with a new index whose last entry holds `bad_handle`, and checks that a
  // read of that entry is kCorruption naming the index block, while the other blocks answer.
  void ExpectIndexHandleIsIndexCorruption(const BlockHandle& bad_handle) {
    SCOPED_TRACE(fmt::format("handle {} {}", bad_handle.offset, bad_handle.size));
    std::string file = pristine_.substr(0, layout_.footer.index.offset);
    BlockBuilder index(1);
    for (std::size_t i = 0; i < layout_.blocks.size(); ++i) {
      std::string handle;
      EncodeBlockHandle(handle,
                        i + 1 == layout_.blocks.size() ? bad_handle : layout_.blocks[i].handle);
      index.Add(layout_.blocks[i].last_key, handle);
    }
    Footer footer = layout_.footer;
    footer.index = {file.size(), index.Finish().size()};
    file.append(index.Finish());
    AppendBlockTrailer(file, index.Finish());
    file.append(EncodeFooter(footer));
    ASSERT_OK(WriteWholeFile(*fs_, path_, file));
    ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs_, path_));
    const auto got = table->Get(LookupKey(model_.back().user_key, kMaxSequenceNumber));
    ASSERT_FALSE(got.has_value());
    ExpectCorruptionNaming(got.error(), footer.index.offset);
    auto it = table->NewIterator();
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    EXPECT_LT(n, model_.size());
    ExpectCorruptionNaming(it->status(), footer.index.offset);
    ASSERT_OK_AND_ASSIGN(const auto first,
                         table->Get(LookupKey(model_.front().user_key, kMaxSequenceNumber)));
    EXPECT_TRUE(first.has_value());
  }

  // Rewrites the footer to `footer` (with a valid checksum) and checks that Open refuses it,
  // naming the footer.
  void ExpectFooterIsCorruption(const Footer& footer) {
    SCOPED_TRACE(fmt::format("filter {} {}, index {} {}", footer.filter.offset, footer.filter.size,
                             footer.index.offset, footer.index.size));
    ASSERT_OK(
        WriteWholeFile(*fs_, path_, pristine_.substr(0, footer_offset_) + EncodeFooter(footer)));
    auto table = OpenTable(*fs_, path_);
    ASSERT_FALSE(table.has_value());
    ExpectCorruptionNaming(table.error(), footer_offset_);
  }

  std::unique_ptr<FileSystem> fs_ = NewFsWithDir();
  const std::string path_{kPath};
  const std::vector<Version> model_ = SmallModel();
  std::string pristine_;
  Layout layout_;
  std::uint64_t footer_offset_ = 0;
};

// An index entry whose block handle points outside the data blocks (a writer bug that passed
// the checksum) is corruption of the index, not a read of whatever lies there.
TEST_F(SmallTableCorruption, IndexHandleOutsideDataBlocks_CorruptionNamingIndex) {
  const std::uint64_t data_end = layout_.footer.filter.offset;
  const BlockHandle last = layout_.blocks.back().handle;
  ExpectIndexHandleIsIndexCorruption({last.offset, last.size + 1});  // 1 byte into the filter.
  ExpectIndexHandleIsIndexCorruption({data_end, 10});                // The filter block itself.
  ExpectIndexHandleIsIndexCorruption({last.offset + 1, last.size});  // Shifted into the filter.
  ExpectIndexHandleIsIndexCorruption({footer_offset_ + 100, 10});    // Past the end of the file.
  ExpectIndexHandleIsIndexCorruption({~std::uint64_t{0} - 2, 10});   // Offset + size wraps.
}

// The same when only offset + size + the 4-byte trailer wraps around 2^64: such handles pass
// the range check in table.cc's IndexHandle, and the error then names a phantom block at the
// handle's offset instead of the index (on a PosixFileSystem the second one would be a pread
// at a negative off_t: kIOError, not kCorruption).
TEST_F(SmallTableCorruption, IndexHandleWrappingWithTrailer_CorruptionNamingIndex) {
  ExpectIndexHandleIsIndexCorruption({0, ~std::uint64_t{0} - 1});
  ExpectIndexHandleIsIndexCorruption({~std::uint64_t{0} - 4, 1});
}

// A footer that passes its checksum but points past the table is refused by Open, naming the
// footer, before anything is read from where it points.
TEST_F(SmallTableCorruption, FooterHandlesPastTheTable_OpenIsCorruptionNamingFooter) {
  const Footer good = layout_.footer;
  Footer f = good;
  f.index = {footer_offset_ - 10, 100};  // Overlaps the footer.
  ExpectFooterIsCorruption(f);
  f.index = {footer_offset_, 0};  // Its trailer would be in the footer.
  ExpectFooterIsCorruption(f);
  f.index = {footer_offset_ + 1000, 10};
  ExpectFooterIsCorruption(f);
  f = good;
  f.filter = {footer_offset_ - 4, 8};
  ExpectFooterIsCorruption(f);
  f.filter = {~std::uint64_t{0} - 2, 10};
  ExpectFooterIsCorruption(f);
}

// As above, with sizes for which size + the 4-byte trailer wraps around 2^64 (Table::Open's
// `beyond` check in table.cc computes h.size + kBlockTrailerSize without an overflow check).
TEST_F(SmallTableCorruption, FooterHandleSizeWrappingWithTrailer_OpenIsCorruptionNamingFooter) {
  Footer f = layout_.footer;
  f.index = {0, ~std::uint64_t{0} - 3};
  ExpectFooterIsCorruption(f);
}

TEST(TableFormat, ReadBlock_ChecksumAndBoundsVerified_ErrorsNameFileAndOffset) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  std::string file = "padding";
  const std::string contents = "block contents";
  AppendBlockTrailer(file, "");  // An empty block at offset 7.
  const BlockHandle empty{7, 0};
  const BlockHandle handle{file.size(), contents.size()};
  file += contents;
  AppendBlockTrailer(file, contents);
  ASSERT_OK(WriteWholeFile(*fs, path, file));
  ASSERT_OK_AND_ASSIGN(auto reader, fs->NewRandomAccessFile(path));
  ASSERT_OK_AND_ASSIGN(const std::string got, ReadBlock(*reader, path, handle));
  EXPECT_EQ(got, contents);
  ASSERT_OK_AND_ASSIGN(const std::string got_empty, ReadBlock(*reader, path, empty));
  EXPECT_EQ(got_empty, "");

  // One byte short or long: the crc is read from the wrong place.
  for (const BlockHandle& bad :
       {BlockHandle{handle.offset, handle.size - 1},
        BlockHandle{handle.offset + 1, handle.size - 1},
        BlockHandle{handle.offset, handle.size + 1}, BlockHandle{file.size() - 2, 0},
        BlockHandle{file.size(), 0}, BlockHandle{file.size() + 50, 10}}) {
    SCOPED_TRACE(fmt::format("handle {} {}", bad.offset, bad.size));
    const auto result = ReadBlock(*reader, path, bad);
    ASSERT_FALSE(result.has_value());
    ExpectCorruptionNaming(result.error(), bad.offset);
  }
}

TEST(TableFormat, Footer_RoundTripAndEveryFlippedBitIsCorruption) {
  Footer footer;
  footer.filter = {1000, 31};
  footer.index = {1035, 200};
  footer.entries = 123456789;
  const std::string encoded = EncodeFooter(footer);
  ASSERT_EQ(encoded.size(), kFooterSize);
  ASSERT_OK_AND_ASSIGN(const Footer decoded, DecodeFooter(encoded, std::string(kPath), 1239));
  EXPECT_EQ(decoded.filter, footer.filter);
  EXPECT_EQ(decoded.index, footer.index);
  EXPECT_EQ(decoded.entries, footer.entries);
  EXPECT_EQ(decoded.version, kTableFormatVersion);
  for (std::size_t bit = 0; bit < 8 * kFooterSize; ++bit) {
    SCOPED_TRACE(bit);
    std::string bad = encoded;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    const auto result = DecodeFooter(bad, std::string(kPath), 1239);
    ASSERT_FALSE(result.has_value());
    ExpectCorruptionNaming(result.error(), 1239);
  }
  for (std::size_t n : {0, 8, 55, 57}) {
    const auto result = DecodeFooter(std::string(n, '\0'), std::string(kPath), 7);
    ASSERT_FALSE(result.has_value());
    ExpectCorruptionNaming(result.error(), 7);
  }
}

TEST(TableFormat, BlockHandle_VarintRoundTripAndTrailingBytesAreCorruption) {
  for (const BlockHandle& h : {BlockHandle{0, 0}, BlockHandle{127, 128},
                               BlockHandle{~std::uint64_t{0}, std::uint64_t{1} << 40}}) {
    std::string encoded;
    EncodeBlockHandle(encoded, h);
    ASSERT_OK_AND_ASSIGN(const BlockHandle decoded, DecodeBlockHandle(encoded));
    EXPECT_EQ(decoded, h);
    EXPECT_STATUS(DecodeBlockHandle(encoded + "x"), StatusCode::kCorruption);
    EXPECT_STATUS(DecodeBlockHandle(std::string_view(encoded).substr(0, encoded.size() - 1)),
                  StatusCode::kCorruption);
  }
}

// A table laid out by hand, without a filter: one data block of `entries` (each at a restart
// point), and an index whose one entry has key `index_key`. Returns the index block's offset.
Result<std::uint64_t> WriteHandmadeTable(
    FileSystem& fs, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& entries, std::string_view index_key) {
  BlockBuilder data(1);
  for (const auto& [key, value] : entries) data.Add(key, value);
  std::string file(data.Finish());
  AppendBlockTrailer(file, data.Finish());
  BlockBuilder index(1);
  std::string handle;
  EncodeBlockHandle(handle, {0, data.Finish().size()});
  index.Add(index_key, handle);
  Footer footer;
  footer.index = {file.size(), index.Finish().size()};
  footer.entries = entries.size();
  file.append(index.Finish());
  AppendBlockTrailer(file, index.Finish());
  file.append(EncodeFooter(footer));
  KV_RETURN_IF_ERROR(WriteWholeFile(fs, path, file));
  return footer.index.offset;
}

// A data block holding a key shorter than a trailer (a writer bug the checksum cannot see) is
// corruption of that block: the table never hands the key out, nor compares it.
TEST(TableCorruption, DataBlockKeyWithoutTrailer_CorruptionNamingBlock) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  // "a"@5, then "b", a 1-byte key; the index entry covers everything up to "z".
  const std::string good_key = MakeInternalKey("a", 5, EntryKind::kValue);
  ASSERT_OK(WriteHandmadeTable(*fs, path, {{good_key, "x"}, {"b", "y"}},
                               MakeInternalKey("z", 0, EntryKind::kDelete)));
  for (const ReadPath read : kReadPaths) {
    SCOPED_TRACE(ReadPathName(read));
    ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs, path, std::nullopt, read));

    auto it = table->NewIterator();
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
    EXPECT_EQ(keys, std::vector<std::string>{good_key});
    ExpectCorruptionNaming(it->status(), 0);

    // A lookup either finds "a"@5 before reaching the bad key, or reports the block.
    for (const LookupKey& lookup : {LookupKey("a", 9), LookupKey("b", 9), LookupKey("b", 0)}) {
      SCOPED_TRACE(lookup.user_key());
      const auto got = table->Get(lookup);
      if (got.has_value()) {
        EXPECT_EQ(lookup.user_key(), "a");
        ASSERT_TRUE(got->has_value());
        EXPECT_EQ((*got)->value, "x");
      } else {
        ExpectCorruptionNaming(got.error(), 0);
      }
    }
  }
}

// The same for the index: an index key without a trailer is corruption of the index block.
TEST(TableCorruption, IndexKeyWithoutTrailer_CorruptionNamingIndex) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  ASSERT_OK_AND_ASSIGN(
      const std::uint64_t index_offset,
      WriteHandmadeTable(*fs, path, {{MakeInternalKey("a", 5, EntryKind::kValue), "x"}}, "z"));
  ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs, path));
  auto it = table->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  ExpectCorruptionNaming(it->status(), index_offset);
  const auto got = table->Get(LookupKey("a", 9));
  ASSERT_FALSE(got.has_value());
  ExpectCorruptionNaming(got.error(), index_offset);
}

TEST(TableCorruption, NotATable_OpenIsCorruptionNamingFooterOffset) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  ASSERT_OK(WriteWholeFile(*fs, path, std::string(1000, 'x')));
  auto table = OpenTable(*fs, path);
  ASSERT_FALSE(table.has_value());
  ExpectCorruptionNaming(table.error(), 1000 - kFooterSize);
}

// --- read faults below the table ---

// The table cache opens tables with NewMappedFile. On a FaultInjectionFileSystem that is a plain
// handle, so a byte the disk returns wrong, or a read the disk fails, reaches the table's read
// path: the one lookup that needs that block fails (kCorruption naming the file and the block,
// or the disk's kIOError), everything else answers, and nothing wrong is cached.
TEST(TableReadFaults, ThroughTheTableCache_WrongByteIsCorruptionFailedReadIsIOError) {
  auto mem = NewFsWithDir();
  FaultInjectionFileSystem fault(*mem);
  const std::string path(kPath);
  const std::vector<Version> model = SmallModel();
  ASSERT_OK_AND_ASSIGN(const Built built, WriteTable(fault, path, SmallOptions(), model));
  ASSERT_OK_AND_ASSIGN(const Layout layout, ReadLayout(*mem, path));
  ASSERT_GE(layout.blocks.size(), 4u);
  BlockCache cache(1 << 20);
  TableCache tables(fault, std::string(kDir), &cache);
  const FileMeta meta{123, built.file_size, built.smallest, built.largest, built.entries};
  ASSERT_OK_AND_ASSIGN(auto table, tables.Find(meta));
  EXPECT_FALSE(table->mapped()) << "a mapping would go around the injected faults";
  // The first model entry of data block b.
  auto first_of = [&](std::size_t b) -> const Version& {
    std::size_t i = 0;
    while (b > 0 &&
           CompareInternalKeys(model[i].InternalKey(), layout.blocks[b - 1].last_key) <= 0) {
      ++i;
    }
    return model[i];
  };
  auto get = [&](const Version& v) { return table->Get(LookupKey(v.user_key, v.sequence)); };

  // A wrong bit in data block 2, as the disk hands it out.
  const std::uint64_t damaged = layout.blocks[2].handle.offset;
  fault.FlipBitOnRead(path, damaged + 10, 3);
  const auto bad = get(first_of(2));
  ASSERT_FALSE(bad.has_value());
  ExpectCorruptionNaming(bad.error(), damaged);
  ASSERT_OK_AND_ASSIGN(const auto good, get(first_of(0)));
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->value, first_of(0).value);
  auto it = table->NewIterator();
  std::size_t scanned = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++scanned;
  EXPECT_LT(scanned, model.size());
  ExpectCorruptionNaming(it->status(), damaged);
  // The disk reads right again: the block was not cached while damaged.
  fault.ClearFaults();
  ASSERT_OK_AND_ASSIGN(const auto healed, get(first_of(2)));
  ASSERT_TRUE(healed.has_value());
  EXPECT_EQ(healed->value, first_of(2).value);

  // The next read fails (block 3 was never read, so it is not in the cache).
  fault.FailNth(FaultOp::kRead, 1, Status::IOError("injected: bad sector"));
  EXPECT_STATUS(get(first_of(3)), StatusCode::kIOError);
  ASSERT_OK_AND_ASSIGN(const auto retried, get(first_of(3)));
  ASSERT_TRUE(retried.has_value());
  EXPECT_EQ(retried->value, first_of(3).value);
}

// --- the bloom filter ---

TEST(TableFilter, AbsentKeys_AnsweredByFilterWithoutReadingDataBlocks) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  std::vector<Version> model;
  for (int i = 0; i < 300; ++i) {
    model.push_back({fmt::format("key{:06}", 2 * i), 7, EntryKind::kValue, "v"});
  }
  for (int bits : {0, 10}) {
    SCOPED_TRACE(bits);
    TableOptions options = SmallOptions();
    options.bloom_bits_per_key = bits;
    ASSERT_OK(WriteTable(*fs, path, options, model));
    // Damage every data block, so that any read of one fails.
    ASSERT_OK_AND_ASSIGN(const Layout layout, ReadLayout(*fs, path));
    ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(*fs, path));
    for (const DataBlock& b : layout.blocks) bytes[b.handle.offset] ^= 1;
    ASSERT_OK(WriteWholeFile(*fs, path, bytes));
    ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs, path));

    int answered_absent = 0;
    int corrupt = 0;
    constexpr int kProbes = 299;  // The odd numbers between the keys: every seek lands in a block.
    for (int i = 0; i < kProbes; ++i) {
      const std::string key = fmt::format("key{:06}", 2 * i + 1);
      const auto got = table->Get(LookupKey(key, kMaxSequenceNumber));
      if (got.has_value()) {
        EXPECT_FALSE(got->has_value()) << key;
        EXPECT_FALSE(table->MayContain(key)) << "a block was read, and it is damaged";
        ++answered_absent;
      } else {
        EXPECT_EQ(got.error().code(), StatusCode::kCorruption);
        ++corrupt;
      }
    }
    for (const Version& v : model) {
      EXPECT_TRUE(table->MayContain(v.user_key)) << v.user_key;
      EXPECT_STATUS(table->Get(LookupKey(v.user_key, kMaxSequenceNumber)), StatusCode::kCorruption);
    }
    if (bits == 0) {
      EXPECT_EQ(corrupt, kProbes) << "without a filter every lookup reads a block";
    } else {
      // About 1% false positives at 10 bits per key; allow 5%.
      EXPECT_GE(answered_absent, kProbes * 95 / 100);
    }
  }
}

// --- empty tables and misuse ---

TEST(Table, NoEntries_OpensAndIteratesAsEmpty) {
  for (int bits : {0, 10}) {
    SCOPED_TRACE(bits);
    auto fs = NewFsWithDir();
    const std::string path(kPath);
    TableOptions options;
    options.bloom_bits_per_key = bits;
    ASSERT_OK_AND_ASSIGN(const Built built, WriteTable(*fs, path, options, {}));
    EXPECT_EQ(built.entries, 0u);
    ASSERT_OK_AND_ASSIGN(const std::uint64_t size, fs->FileSize(path));
    EXPECT_EQ(built.file_size, size);
    ASSERT_OK_AND_ASSIGN(auto table, OpenTable(*fs, path));
    EXPECT_EQ(table->entries(), 0u);
    EXPECT_EQ(table->file_size(), size);
    auto it = table->NewIterator();
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
    it->Seek(MakeInternalKey("a", 1, EntryKind::kValue));
    EXPECT_FALSE(it->Valid());
    EXPECT_OK(it->status());
    ASSERT_OK_AND_ASSIGN(const auto got, table->Get(LookupKey("a", kMaxSequenceNumber)));
    EXPECT_FALSE(got.has_value());
  }
}

TEST(TableBuilderDeathTest, KeysOutOfOrder_Aborts) {
  auto fs = NewFsWithDir();
  const std::string path(kPath);
  auto file = fs->NewWritableFile(path);
  ASSERT_TRUE(file.has_value());
  TableBuilder builder(TableOptions{}, **file, path);
  ASSERT_OK(builder.Add(MakeInternalKey("b", 5, EntryKind::kValue), "v"));
  // Same key again, a smaller user key, and an older-sorting-first version are all out of order.
  EXPECT_DEATH((void)builder.Add(MakeInternalKey("b", 5, EntryKind::kValue), "v"), "out of order");
  EXPECT_DEATH((void)builder.Add(MakeInternalKey("a", 9, EntryKind::kValue), "v"), "out of order");
  EXPECT_DEATH((void)builder.Add(MakeInternalKey("b", 6, EntryKind::kValue), "v"), "out of order");
  ASSERT_OK(builder.Add(MakeInternalKey("b", 4, EntryKind::kValue), "v"));
}

}  // namespace
}  // namespace kv::storage::lsm
