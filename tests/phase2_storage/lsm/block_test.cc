// Tests of SSTable blocks (phase2_storage/lsm/block_builder.h and block.h; the format is
// docs/formats/sstable.md §3):
//   * the byte layout of a small block, spelled out from the format document;
//   * model-based: random sorted entries (internal keys under CompareInternalKeys, and arbitrary
//     byte keys under a bytewise order) with random restart intervals 1..20 are built, parsed, and
//     read back: SeekToFirst + Next gives every entry in order, Seek(t) lands on the model's
//     lower_bound(t), the restart array has one point per `restart_interval` entries, and
//     SizeEstimate() predicts the finished size;
//   * edge cases: long shared prefixes (shared lengths over 127, so two-byte varints), values of
//     128 bytes to 100 KB (multi-byte length varints), empty values and keys, one entry, none;
//   * structure damage (the checksum has already passed, so only a buggy writer makes it): short
//     blocks, restart counts of 0 or too many, restart offsets out of order or out of range,
//     entries whose lengths overrun, a `shared` longer than the previous key, a restart entry
//     that shares a prefix, a key shorter than the iterator's min_key_size (an internal key
//     without its trailer). Parse or the iterator reports kCorruption naming the block (`where`),
//     and never reads outside the block — this suite is also run under build/asan;
//   * every truncation, and thousands of random byte mutations, of valid blocks of byte keys and
//     of internal keys: kCorruption or plain entries, never a crash (nor, under ASan, an
//     out-of-bounds read).
#include "phase2_storage/lsm/block.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>

#include "common/testing/seed.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/lsm/block_builder.h"
#include "phase2_storage/lsm/internal_key.h"

namespace kv::storage::lsm {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kWhere = "000042.sst data block at offset 4096";

using Entry = std::pair<std::string, std::string>;

// --- models, written without the code under test ---

bool BytesLess(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  });
}

// A bytewise comparator for blocks of arbitrary keys (the block does not care what keys are).
int BytewiseCompare(std::string_view a, std::string_view b) {
  if (BytesLess(a, b)) return -1;
  return BytesLess(b, a) ? 1 : 0;
}

std::uint64_t LittleEndian64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

// The internal-key order of docs/formats/sstable.md §2: user key ascending, then the trailer
// (sequence << 8 | kind) descending.
bool ModelInternalLess(std::string_view a, std::string_view b) {
  const std::string_view ua = a.substr(0, a.size() - 8);
  const std::string_view ub = b.substr(0, b.size() - 8);
  if (ua != ub) return BytesLess(ua, ub);
  return LittleEndian64(a.substr(a.size() - 8)) > LittleEndian64(b.substr(b.size() - 8));
}

using ModelLess = bool (*)(std::string_view, std::string_view);

// Bytes given as numbers, for blocks laid out by hand (a "\x01" "abc" literal is easy to get
// wrong: hex escapes swallow the letters after them).
std::string Raw(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// --- helpers ---

std::string BuildBlock(const std::vector<Entry>& entries, int restart_interval) {
  BlockBuilder builder(restart_interval);
  for (const auto& [key, value] : entries) builder.Add(key, value);
  return std::string(builder.Finish());
}

Result<std::shared_ptr<const Block>> ParseBlock(std::string contents) {
  return Block::Parse(std::move(contents), std::string(kWhere));
}

std::uint32_t RestartCount(std::string_view block) {
  return static_cast<std::uint32_t>(
      LittleEndian64(std::string(block.substr(block.size() - 4)) + std::string(4, '\0')));
}

void PutFixed32At(std::string& block, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) block[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// Offset of the restart array of a well-formed block.
std::size_t RestartArrayOffset(std::string_view block) {
  return block.size() - 4 - 4 * std::size_t{RestartCount(block)};
}

// Reads every entry from the start; stops after `limit` entries (a guard for damaged blocks).
std::vector<Entry> ScanAll(Iterator& it, std::size_t limit = SIZE_MAX) {
  std::vector<Entry> out;
  for (it.SeekToFirst(); it.Valid() && out.size() < limit; it.Next()) {
    out.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  return out;
}

// Checks the block built from `entries` (sorted by `less`) against the model: a full scan, then
// Seek to every key and to every target in `targets`, on one reused iterator.
void CheckBlockAgainstModel(const std::vector<Entry>& entries, int restart_interval,
                            const std::vector<std::string>& targets, KeyComparator compare,
                            std::size_t min_key_size, ModelLess less) {
  BlockBuilder builder(restart_interval);
  for (const auto& [key, value] : entries) builder.Add(key, value);
  RC_ASSERT(builder.empty() == entries.empty());
  if (!entries.empty()) RC_ASSERT(builder.last_key() == entries.back().first);
  const std::size_t estimate = builder.SizeEstimate();
  const std::string contents(builder.Finish());
  RC_ASSERT(estimate == contents.size());
  // One restart point per `restart_interval` entries, and one in an empty block.
  const std::size_t expected_restarts =
      entries.empty() ? 1 : (entries.size() + restart_interval - 1) / restart_interval;
  RC_ASSERT(RestartCount(contents) == expected_restarts);

  auto block = ParseBlock(contents);
  RC_ASSERT(block.has_value());
  RC_ASSERT((*block)->size() == contents.size());
  RC_ASSERT((*block)->where() == kWhere);
  auto it = Block::NewIterator(*block, compare, min_key_size);
  RC_ASSERT(!it->Valid());

  RC_ASSERT(ScanAll(*it) == entries);
  RC_ASSERT(it->status().ok());

  auto lower_bound = [&](std::string_view target) {
    return std::ranges::lower_bound(entries, target, less, &Entry::first);
  };
  std::vector<std::string> all_targets = targets;
  for (const auto& e : entries) all_targets.push_back(e.first);
  for (const std::string& target : all_targets) {
    it->Seek(target);
    const auto expected = lower_bound(target);
    if (expected == entries.end()) {
      RC_ASSERT(!it->Valid());
    } else {
      RC_ASSERT(it->Valid());
      RC_ASSERT(it->key() == expected->first);
      RC_ASSERT(it->value() == expected->second);
      // The iterator continues from there in order.
      it->Next();
      if (expected + 1 == entries.end()) {
        RC_ASSERT(!it->Valid());
      } else {
        RC_ASSERT(it->Valid());
        RC_ASSERT(it->key() == (expected + 1)->first);
        RC_ASSERT(it->value() == (expected + 1)->second);
      }
    }
    RC_ASSERT(it->status().ok());
  }
}

// --- generators ---

rc::Gen<std::string> GenUserKey() {
  const auto byte = rc::gen::element<char>('a', 'b', '\0', '\x7f', '\x80', '\xff');
  auto short_key = rc::gen::mapcat(rc::gen::inRange(1, 5), [byte](int n) {
    return rc::gen::container<std::string>(static_cast<std::size_t>(n), byte);
  });
  // Keys that share a long prefix of 'p's (shared lengths above 127 need two varint bytes).
  auto long_prefix = rc::gen::map(rc::gen::pair(rc::gen::inRange<std::size_t>(100, 300), short_key),
                                  [](const std::pair<std::size_t, std::string>& p) {
                                    return std::string(p.first, 'p') + p.second;
                                  });
  return rc::gen::oneOf(short_key, long_prefix, rc::gen::nonEmpty<std::string>());
}

rc::Gen<std::string> GenValue() {
  return rc::gen::oneOf(rc::gen::just(std::string()), rc::gen::arbitrary<std::string>(),
                        rc::gen::mapcat(rc::gen::inRange<std::size_t>(128, 600), [](std::size_t n) {
                          return rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
                        }));
}

rc::Gen<std::string> GenInternalKey() {
  return rc::gen::apply(
      [](const std::string& user_key, SequenceNumber sequence, bool is_value) {
        return MakeInternalKey(user_key, sequence,
                               is_value ? EntryKind::kValue : EntryKind::kDelete);
      },
      GenUserKey(),
      rc::gen::oneOf(rc::gen::inRange<SequenceNumber>(0, 5),
                     rc::gen::inRange<SequenceNumber>(0, kMaxSequenceNumber + 1)),
      rc::gen::arbitrary<bool>());
}

// Sorted by `less`, each key once (the first value generated for it wins).
std::vector<Entry> SortedUnique(std::vector<Entry> entries, ModelLess less) {
  std::ranges::stable_sort(entries, less, &Entry::first);
  auto dup = std::ranges::unique(entries, [less](const Entry& a, const Entry& b) {
    return !less(a.first, b.first) && !less(b.first, a.first);
  });
  entries.erase(dup.begin(), dup.end());
  return entries;
}

// --- layout ---

TEST(BlockBuilder, Layout_PrefixCompressedEntriesThenRestartArrayThenCount) {
  // Restart interval 2: "abc" whole, "abd" sharing 2 bytes, then "b" whole at a restart point.
  const std::string block = BuildBlock({{"abc", "1"}, {"abd", "22"}, {"b", ""}}, 2);
  const std::string expected = Raw({0, 3, 1}) + "abc" + "1" +  // offset 0: "abc" -> "1"
                               Raw({2, 1, 2}) + "d" + "22" +   // offset 7: "ab" + "d" -> "22"
                               Raw({0, 1, 0}) + "b" +          // offset 13: "b" -> ""
                               Raw({0, 0, 0, 0}) +             // restart[0] = 0
                               Raw({13, 0, 0, 0}) +            // restart[1] = 13
                               Raw({2, 0, 0, 0});              // 2 restart points
  EXPECT_EQ(block, expected);
}

TEST(BlockBuilder, NoEntries_IsOneRestartPointAtZero) {
  BlockBuilder builder(16);
  EXPECT_TRUE(builder.empty());
  EXPECT_EQ(builder.SizeEstimate(), 8u);
  EXPECT_EQ(builder.Finish(), Raw({0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(BlockBuilder, FinishTwice_SameBlock_ResetStartsAFreshOne) {
  BlockBuilder builder(3);
  builder.Add("apple", "1");
  builder.Add("apricot", "2");
  const std::string first(builder.Finish());
  EXPECT_EQ(builder.Finish(), first);
  builder.Reset();
  EXPECT_TRUE(builder.empty());
  EXPECT_EQ(builder.last_key(), "");
  // A key smaller than the previous block's keys is fine: the new block shares nothing with them.
  builder.Add("aardvark", "3");
  EXPECT_EQ(builder.last_key(), "aardvark");
  const std::string second(builder.Finish());
  EXPECT_EQ(second, BuildBlock({{"aardvark", "3"}}, 3));
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(second));
  auto it = Block::NewIterator(block, BytewiseCompare);
  EXPECT_EQ(ScanAll(*it), (std::vector<Entry>{{"aardvark", "3"}}));
}

// --- model-based properties ---

RC_GTEST_PROP(BlockProperty, RandomInternalKeys_ScanAndSeekMatchModel, ()) {
  const auto generated =
      *rc::gen::container<std::vector<Entry>>(rc::gen::pair(GenInternalKey(), GenValue()));
  const std::vector<Entry> entries = SortedUnique(generated, ModelInternalLess);
  const int restart_interval = *rc::gen::inRange(1, 21);
  const auto targets = *rc::gen::container<std::vector<std::string>>(GenInternalKey());
  CheckBlockAgainstModel(entries, restart_interval, targets, CompareInternalKeys, kTrailerSize,
                         ModelInternalLess);
}

RC_GTEST_PROP(BlockProperty, ArbitraryByteKeys_ScanAndSeekMatchModel, ()) {
  // Any bytes, the empty key included; shared prefixes come from the small alphabet.
  const auto key = rc::gen::oneOf(rc::gen::arbitrary<std::string>(), GenUserKey());
  const auto generated = *rc::gen::container<std::vector<Entry>>(rc::gen::pair(key, GenValue()));
  const std::vector<Entry> entries = SortedUnique(generated, BytesLess);
  const int restart_interval = *rc::gen::inRange(1, 21);
  const auto targets = *rc::gen::container<std::vector<std::string>>(key);
  CheckBlockAgainstModel(entries, restart_interval, targets, BytewiseCompare, 0, BytesLess);
}

// --- edge cases ---

TEST(Block, KeysSharingLongPrefixes_RoundTripAndAreStoredOnce) {
  const std::string prefix(300, 'p');
  std::vector<Entry> entries;
  for (char c = 'a'; c <= 'z'; ++c) entries.push_back({prefix + c, std::string(1, c)});
  for (int restart_interval : {1, 2, 16, 20}) {
    SCOPED_TRACE(restart_interval);
    const std::string contents = BuildBlock(entries, restart_interval);
    // Only the keys at restart points are stored whole: prefix compression must save space.
    const std::size_t restarts = (entries.size() + restart_interval - 1) / restart_interval;
    EXPECT_LT(contents.size(), restarts * prefix.size() + entries.size() * 16);
    ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(contents));
    auto it = Block::NewIterator(block, BytewiseCompare);
    EXPECT_EQ(ScanAll(*it), entries);
    for (const auto& [key, value] : entries) {
      it->Seek(key);
      ASSERT_TRUE(it->Valid()) << key.substr(300);
      EXPECT_EQ(it->key(), key);
      EXPECT_EQ(it->value(), value);
    }
    it->Seek(prefix);  // A proper prefix of every key: lands on the first.
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), entries.front().first);
    it->Seek(prefix + "zz");
    EXPECT_FALSE(it->Valid());
    EXPECT_OK(it->status());
  }
}

TEST(Block, LargeKeysAndValues_MultiByteLengthVarints_RoundTrip) {
  std::vector<Entry> entries;
  int i = 0;
  for (std::size_t size : {0, 1, 127, 128, 255, 16383, 16384, 100000}) {
    // Keys of 200 bytes (unshared length over 127) and values around every varint boundary.
    std::string key = fmt::format("{:03}", i++) + std::string(197, 'k');
    std::string value(size, '\0');
    for (std::size_t j = 0; j < size; ++j) value[j] = static_cast<char>(j * 7 + size);
    entries.emplace_back(std::move(key), std::move(value));
  }
  for (int restart_interval : {1, 3, 16}) {
    SCOPED_TRACE(restart_interval);
    ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(BuildBlock(entries, restart_interval)));
    auto it = Block::NewIterator(block, BytewiseCompare);
    EXPECT_EQ(ScanAll(*it), entries);
    it->Seek(entries[5].first);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->value(), entries[5].second);
    EXPECT_OK(it->status());
  }
}

TEST(Block, EmptyValuesAndEmptyKey_RoundTrip) {
  const std::vector<Entry> entries = {{"", ""}, {"a", ""}, {"ab", ""}, {"b", "x"}, {"c", ""}};
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(BuildBlock(entries, 2)));
  auto it = Block::NewIterator(block, BytewiseCompare);
  EXPECT_EQ(ScanAll(*it), entries);
  it->Seek("");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "");
  it->Seek("aa");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "ab");
  EXPECT_EQ(it->value(), "");
}

TEST(Block, SingleEntry_SeekBeforeOnAndAfter) {
  const std::string key = MakeInternalKey("m", 5, EntryKind::kValue);
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(BuildBlock({{key, "v"}}, 16)));
  auto it = Block::NewIterator(block, CompareInternalKeys, kTrailerSize);
  EXPECT_EQ(ScanAll(*it), (std::vector<Entry>{{key, "v"}}));
  it->Seek(MakeInternalKey("a", 1, EntryKind::kValue));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), key);
  it->Seek(MakeInternalKey("m", 9, EntryKind::kValue));  // Newer than the entry: before it.
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), key);
  it->Seek(key);
  ASSERT_TRUE(it->Valid());
  it->Next();
  EXPECT_FALSE(it->Valid());
  it->Seek(MakeInternalKey("m", 4, EntryKind::kValue));  // Older than the entry: after it.
  EXPECT_FALSE(it->Valid());
  it->Seek(MakeInternalKey("n", 9, EntryKind::kValue));
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
}

TEST(Block, NoEntries_ParsesAndIteratorIsNeverValid) {
  BlockBuilder builder(16);
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(std::string(builder.Finish())));
  auto it = Block::NewIterator(block, CompareInternalKeys, kTrailerSize);
  EXPECT_FALSE(it->Valid());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->Seek(MakeInternalKey("a", 1, EntryKind::kValue));
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
}

TEST(Block, IteratorHoldsTheBlock_AfterCallerDropsIt) {
  const std::vector<Entry> entries = {{"k1", std::string(100, 'a')}, {"k2", std::string(100, 'b')}};
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(BuildBlock(entries, 1)));
  auto it = Block::NewIterator(std::move(block), BytewiseCompare);
  block.reset();
  EXPECT_EQ(ScanAll(*it), entries);  // Under ASan, a use after free if the block was not kept.
}

// --- structure damage ---

// Asserts that `status` is kCorruption whose message names the block, and optionally more.
void ExpectCorruptionNamingBlock(const Status& status, std::string_view also = {}) {
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(std::string(kWhere)));
  if (!also.empty()) {
    EXPECT_THAT(status.message(), HasSubstr(std::string(also)));
  }
}

// Ten entries, restart interval 3: restart points at entries 0, 3, 6, 9.
std::string TenEntryBlock() {
  std::vector<Entry> entries;
  for (int i = 0; i < 10; ++i) entries.push_back({fmt::format("key{:02}", i), "value"});
  return BuildBlock(entries, 3);
}

TEST(BlockCorruption, ShorterThanRestartCount_IsCorruptionNamingBlock) {
  for (std::size_t n = 0; n < 4; ++n) {
    SCOPED_TRACE(n);
    auto block = ParseBlock(std::string(n, '\x01'));
    ASSERT_FALSE(block.has_value());
    ExpectCorruptionNamingBlock(block.error());
  }
}

TEST(BlockCorruption, RestartCountZeroOrTooLarge_IsCorruptionNamingBlock) {
  const std::string good = TenEntryBlock();
  ASSERT_EQ(RestartCount(good), 4u);
  const auto max_restarts = static_cast<std::uint32_t>((good.size() - 4) / 4);
  for (std::uint32_t count : {0u, max_restarts + 1, 0x40000000u, 0x40000001u, 0xffffffffu}) {
    SCOPED_TRACE(count);
    std::string bad = good;
    PutFixed32At(bad, bad.size() - 4, count);
    auto block = ParseBlock(bad);
    ASSERT_FALSE(block.has_value());
    ExpectCorruptionNamingBlock(block.error());
  }
  // A count that fits in a short block, but whose array would start before the block.
  auto block = ParseBlock(Raw({0, 0, 0, 0, 2, 0, 0, 0}));
  ASSERT_FALSE(block.has_value());
  ExpectCorruptionNamingBlock(block.error());
}

TEST(BlockCorruption, RestartOffsetsOutOfOrderOrRange_IsCorruptionNamingBlock) {
  const std::string good = TenEntryBlock();
  const std::size_t array = RestartArrayOffset(good);
  auto restart = [&](int i) {
    return static_cast<std::uint32_t>(LittleEndian64(good.substr(array + 4 * i, 4) + "\0\0\0\0"));
  };
  ASSERT_EQ(restart(0), 0u);
  struct Case {
    const char* what;
    int index;
    std::uint32_t value;
  };
  const Case cases[] = {
      {"first not at 0", 0, restart(1)},
      {"first at 1", 0, 1},
      {"equal to the one before", 2, restart(1)},
      {"smaller than the one before", 2, restart(1) - 1},
      {"swapped with the next", 1, restart(2)},
      {"at the restart array", 3, static_cast<std::uint32_t>(array)},
      {"inside the restart array", 3, static_cast<std::uint32_t>(array + 5)},
      {"past the block", 3, static_cast<std::uint32_t>(good.size() + 100)},
      {"huge", 3, 0xffffffffu},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string bad = good;
    PutFixed32At(bad, array + 4 * c.index, c.value);
    auto block = ParseBlock(bad);
    ASSERT_FALSE(block.has_value());
    ExpectCorruptionNamingBlock(block.error());
  }
}

// A block of the given entry bytes and restart offsets, laid out by hand.
std::string HandmadeBlock(std::string_view entries, const std::vector<std::uint32_t>& restarts) {
  std::string block(entries);
  for (std::uint32_t r : restarts) {
    block.append(4, '\0');
    PutFixed32At(block, block.size() - 4, r);
  }
  block.append(4, '\0');
  PutFixed32At(block, block.size() - 4, static_cast<std::uint32_t>(restarts.size()));
  return block;
}

TEST(BlockCorruption, MalformedEntries_IteratorReportsCorruptionNamingBlockAndEntry) {
  struct Case {
    const char* what;
    std::string entries;
    std::size_t good_entries;  // Entries a scan yields before the damage.
    std::size_t bad_offset;
  };
  const Case cases[] = {
      {"first entry shares a prefix with nothing", Raw({1, 1, 0}) + "a", 0, 0},
      {"value runs past the entries", Raw({0, 1, 50}) + "ab", 0, 0},
      {"key runs past the entries", Raw({0, 9, 0}) + "ab", 0, 0},
      {"length varint cut off", Raw({0, 1, 0}) + "a" + Raw({0x80, 0x80}), 1, 4},
      {"varint longer than five bytes", Raw({0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0}), 0, 0},
      {"second entry shares more than the first key", Raw({0, 1, 0}) + "a" + Raw({5, 1, 0}) + "b",
       1, 4},
      {"lengths overflow 32 bits",
       Raw({0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f}) + "a", 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(HandmadeBlock(c.entries, {0})));
    auto it = Block::NewIterator(block, BytewiseCompare);
    EXPECT_EQ(ScanAll(*it).size(), c.good_entries);
    EXPECT_FALSE(it->Valid());
    ExpectCorruptionNamingBlock(it->status(), fmt::format("offset {}", c.bad_offset));
    // Seek decodes the same entries and fails the same way.
    auto seeker = Block::NewIterator(block, BytewiseCompare);
    seeker->Seek("zzz");
    EXPECT_FALSE(seeker->Valid());
    ExpectCorruptionNamingBlock(seeker->status(), fmt::format("offset {}", c.bad_offset));
    // The error is not forgotten by repositioning.
    seeker->SeekToFirst();
    EXPECT_FALSE(seeker->status().ok());
  }
}

TEST(BlockCorruption, RestartEntrySharingAPrefix_SeekReportsCorruption) {
  // "a" at offset 0, then "ab" stored as (shared 1, "b") at offset 4, which is a restart point.
  const std::string entries = Raw({0, 1, 0}) + "a" + Raw({1, 1, 0}) + "b";
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(HandmadeBlock(entries, {0, 4})));
  auto it = Block::NewIterator(block, BytewiseCompare);
  it->Seek("b");  // The binary search reads the key at restart point 1.
  EXPECT_FALSE(it->Valid());
  ExpectCorruptionNamingBlock(it->status(), "offset 4");
}

// The table reads blocks of internal keys with CompareInternalKeys, whose contract is "both keys
// well formed" (at least a trailer long), and so passes min_key_size = kTrailerSize. A block
// holding a shorter key passed its checksum, so a writer was buggy: that is a structure error to
// report as kCorruption, not a key to compare. (Comparing it reads the 8 bytes before the key's
// end, here 1 byte before the block's buffer: under ASan, a heap-buffer-overflow.)
TEST(BlockCorruption, KeyShorterThanMinKeySize_CorruptionBeforeTheComparatorSeesIt) {
  // Offset 0: an entry with an empty key and value. Offset 3, restart point 1: key "a" (1 byte,
  // so no trailer) and a 20-byte value that puts the block on the heap.
  const std::string entries = Raw({0, 0, 0}) + Raw({0, 1, 20}) + "a" + std::string(20, 'w');
  ASSERT_OK_AND_ASSIGN(auto block, ParseBlock(HandmadeBlock(entries, {0, 3})));
  auto it = Block::NewIterator(block, CompareInternalKeys, kTrailerSize);
  // What Table::Get seeks for user key "a": the user keys compare equal, so the comparator would
  // go on to the trailers. The binary search reads the key at restart point 1 (offset 3).
  it->Seek(LookupKey("a", 1).internal_key());
  EXPECT_FALSE(it->Valid()) << "yielded a " << it->key().size() << "-byte internal key";
  ExpectCorruptionNamingBlock(it->status(), "offset 3");

  // The binary search reports the short restart key even when the answer lies before it: here
  // entry 0 is well formed and not before the target, but the search reads restart point 1 first.
  const std::string first = MakeInternalKey("0", 1, EntryKind::kValue);
  const std::string two_runs = Raw({0, static_cast<int>(first.size()), 1}) + first + "x" +
                               Raw({0, 1, 1}) + "z" + "y";  // Restart point 1: key "z".
  ASSERT_OK_AND_ASSIGN(
      auto two_runs_block,
      ParseBlock(HandmadeBlock(two_runs, {0, 3 + static_cast<std::uint32_t>(first.size() + 1)})));
  auto early = Block::NewIterator(two_runs_block, CompareInternalKeys, kTrailerSize);
  early->Seek(MakeInternalKey("+", 1, EntryKind::kValue));  // "+" sorts before "0".
  EXPECT_FALSE(early->Valid());
  ExpectCorruptionNamingBlock(early->status(), fmt::format("offset {}", 3 + first.size() + 1));

  // A scan decodes entry 0 first: its empty key is too short.
  auto scan = Block::NewIterator(block, CompareInternalKeys, kTrailerSize);
  EXPECT_TRUE(ScanAll(*scan).empty());
  ExpectCorruptionNamingBlock(scan->status(), "offset 0");

  // The minimum applies to the whole key, not to the bytes an entry stores: a version of the same
  // user key shares the user key and a trailer byte, and stores fewer than 8 bytes itself.
  const std::vector<Entry> versions = {{MakeInternalKey("k", 2, EntryKind::kValue), "new"},
                                       {MakeInternalKey("k", 1, EntryKind::kValue), "old"}};
  const std::string contents = BuildBlock(versions, 16);
  const std::size_t second_entry = 3 + versions[0].first.size() + versions[0].second.size();
  ASSERT_LT(static_cast<unsigned char>(contents[second_entry + 1]), kTrailerSize)
      << "the second entry stores fewer than 8 key bytes";
  ASSERT_OK_AND_ASSIGN(auto shared, ParseBlock(contents));
  auto shared_it = Block::NewIterator(shared, CompareInternalKeys, kTrailerSize);
  EXPECT_EQ(ScanAll(*shared_it), versions);
  shared_it->Seek(LookupKey("k", 1).internal_key());
  ASSERT_TRUE(shared_it->Valid());
  EXPECT_EQ(shared_it->value(), "old");
  EXPECT_OK(shared_it->status());
}

// Parses `contents` and exercises every iterator operation on it; a damaged block must give
// kCorruption naming the block (from Parse or the iterator) or plain entries, never a crash.
// Returns false if Parse or the iterator reported an error.
bool ExerciseDamagedBlock(std::string contents, KeyComparator compare, std::size_t min_key_size,
                          Random& rng, const std::vector<std::string>& targets) {
  const std::size_t limit = contents.size();  // Every entry takes at least 3 bytes.
  auto block = ParseBlock(std::move(contents));
  if (!block) {
    ExpectCorruptionNamingBlock(block.error());
    return false;
  }
  bool clean = true;
  auto it = Block::NewIterator(*block, compare, min_key_size);
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_LE(++n, limit) << "more entries than the block has bytes";
    if (n > limit) break;
    EXPECT_GE(it->key().size(), min_key_size);
    // Touch every byte the iterator hands out (ASan checks they are inside the block).
    std::size_t sum = 0;
    for (char c : it->key()) sum += static_cast<unsigned char>(c);
    for (char c : it->value()) sum += static_cast<unsigned char>(c);
    (void)sum;
  }
  if (!it->status().ok()) {
    ExpectCorruptionNamingBlock(it->status());
    clean = false;
  }
  for (int i = 0; i < 4; ++i) {
    auto seeker = Block::NewIterator(*block, compare, min_key_size);
    seeker->Seek(targets[rng.Uniform(targets.size())]);
    for (int steps = 0; seeker->Valid() && steps < 3; ++steps) {
      EXPECT_GE(seeker->key().size(), min_key_size);
      seeker->Next();
    }
    if (!seeker->status().ok()) {
      ExpectCorruptionNamingBlock(seeker->status());
      clean = false;
    }
  }
  return clean;
}

// Random sorted entries: byte keys for the bytewise comparator, or (`internal`) internal keys for
// CompareInternalKeys, as the table uses them.
std::vector<Entry> RandomEntries(Random& rng, std::size_t count, bool internal) {
  std::set<std::string> keys;
  while (keys.size() < count) {
    std::string key = std::string(rng.Uniform(3), 'p') + rng.Bytes(rng.Uniform(6));
    if (internal) {
      key = MakeInternalKey(key, rng.Uniform(4),
                            rng.OneIn(2) ? EntryKind::kValue : EntryKind::kDelete);
    }
    keys.insert(std::move(key));
  }
  std::vector<Entry> entries;
  for (const std::string& key : keys) {
    entries.emplace_back(key, rng.Bytes(rng.OneIn(8) ? 130 + rng.Uniform(100) : rng.Uniform(8)));
  }
  if (internal) std::ranges::sort(entries, ModelInternalLess, &Entry::first);
  return entries;
}

std::vector<std::string> SeekTargets(const std::vector<Entry>& entries, bool internal) {
  std::vector<std::string> targets;
  for (std::string_view user_key : {"", "p", "pp", "\xff\xff"}) {
    targets.push_back(internal ? MakeInternalKey(user_key, 2, EntryKind::kValue)
                               : std::string(user_key));
  }
  for (const auto& e : entries) targets.push_back(e.first);
  return targets;
}

// Where the table's comparator and minimum key size would be used, and where a bytewise one.
struct Mode {
  bool internal;
  KeyComparator compare;
  std::size_t min_key_size;
};
constexpr Mode kBytewise{false, BytewiseCompare, 0};
constexpr Mode kInternal{true, CompareInternalKeys, kTrailerSize};

TEST(BlockCorruption, EveryTruncation_CorruptionOrEntriesNeverACrash) {
  testing::TestRandom rng;
  for (const Mode& mode : {kBytewise, kInternal}) {
    SCOPED_TRACE(mode.internal ? "internal keys" : "byte keys");
    const std::vector<Entry> entries = RandomEntries(rng, 12, mode.internal);
    const std::string good = BuildBlock(entries, 4);
    const std::vector<std::string> targets = SeekTargets(entries, mode.internal);
    for (std::size_t n = 0; n < good.size() && !HasFailure(); ++n) {
      SCOPED_TRACE(n);
      ExerciseDamagedBlock(good.substr(0, n), mode.compare, mode.min_key_size, rng, targets);
    }
  }
}

TEST(BlockCorruption, RandomByteMutations_CorruptionOrEntriesNeverACrash) {
  testing::TestRandom rng;
  int caught = 0;
  constexpr int kRounds = 4000;
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SCOPED_TRACE(round);
    const Mode& mode = round % 2 == 0 ? kBytewise : kInternal;
    const std::vector<Entry> entries = RandomEntries(rng, rng.Uniform(30), mode.internal);
    std::string block = BuildBlock(entries, 1 + static_cast<int>(rng.Uniform(8)));
    // Damage the restart array and count more often: they are few bytes but steer everything.
    const int mutations = 1 + static_cast<int>(rng.Uniform(3));
    for (int m = 0; m < mutations; ++m) {
      const std::size_t pos =
          rng.OneIn(3) ? block.size() - 1 - rng.Uniform(std::min<std::size_t>(block.size(), 12))
                       : rng.Uniform(block.size());
      if (rng.OneIn(2)) {
        block[pos] = static_cast<char>(block[pos] ^ (1 << rng.Uniform(8)));
      } else {
        block[pos] = static_cast<char>(rng.Uniform(256));
      }
    }
    if (!ExerciseDamagedBlock(block, mode.compare, mode.min_key_size, rng,
                              SeekTargets(entries, mode.internal))) {
      ++caught;
    }
  }
  // Most mutations hit a length or a restart offset; the checks must catch a good share of them.
  EXPECT_GT(caught, kRounds / 10);
}

}  // namespace
}  // namespace kv::storage::lsm
