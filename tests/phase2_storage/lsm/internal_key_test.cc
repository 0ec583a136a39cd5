// Tests of internal keys (phase2_storage/lsm/internal_key.h, docs/formats/sstable.md §2):
//   * the byte layout: user key, then fixed64 little-endian of (sequence << 8 | kind);
//   * make/parse round trip for any user key bytes and every sequence up to 2^56 - 1;
//   * CompareInternalKeys agrees with a model order written here from the header's words (user key
//     ascending as unsigned bytes, sequence descending, kind descending), on random keys that
//     collide often in user key and sequence;
//   * malformed keys (shorter than the trailer, unknown kind) are kCorruption;
//   * a LookupKey for (k, s), used with lower_bound over sorted internal keys, lands on the newest
//     version of k at or before s, or on something that is not k when there is none.
#include "phase2_storage/lsm/internal_key.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/testing/status_matchers.h"

namespace kv::storage::lsm {
namespace {

// One version of a key, as the model sees it: plain fields, no bytes.
struct Version {
  std::string user_key;
  SequenceNumber sequence = 0;
  EntryKind kind = EntryKind::kValue;
};

// Bytewise order of user keys, as unsigned bytes (so "\x80" sorts after "a"), a proper prefix
// first. Written without the code under test.
bool UserKeyLess(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  });
}

// The documented order: user key ascending, sequence descending, kind descending. <0, 0, >0.
int ModelCompare(const Version& a, const Version& b) {
  if (UserKeyLess(a.user_key, b.user_key)) return -1;
  if (UserKeyLess(b.user_key, a.user_key)) return 1;
  if (a.sequence != b.sequence) return a.sequence > b.sequence ? -1 : 1;
  if (a.kind != b.kind) return a.kind > b.kind ? -1 : 1;
  return 0;
}

int Sign(int x) { return (x > 0) - (x < 0); }

std::string Encode(const Version& v) { return MakeInternalKey(v.user_key, v.sequence, v.kind); }

// User keys from a few bytes that include 0x00, 0x7f, 0x80 and 0xff, so that keys collide,
// are prefixes of each other, and differ in the sign bit of a char; plus arbitrary strings.
rc::Gen<std::string> GenUserKey() {
  const auto byte = rc::gen::element<char>('a', 'b', '\0', '\x7f', '\x80', '\xff');
  return rc::gen::oneOf(rc::gen::mapcat(rc::gen::inRange(0, 5),
                                        [byte](int n) {
                                          return rc::gen::container<std::string>(
                                              static_cast<std::size_t>(n), byte);
                                        }),
                        rc::gen::arbitrary<std::string>());
}

// Sequences that collide (small), and sequences whose high bytes matter (so an order that
// compared the little-endian trailer bytes with memcmp, or as a signed number, would differ).
rc::Gen<SequenceNumber> GenSequence() {
  return rc::gen::oneOf(
      rc::gen::inRange<SequenceNumber>(0, 4), rc::gen::inRange<SequenceNumber>(250, 260),
      rc::gen::inRange<SequenceNumber>(kMaxSequenceNumber - 3, kMaxSequenceNumber + 1),
      rc::gen::inRange<SequenceNumber>(0, kMaxSequenceNumber + 1));
}

rc::Gen<Version> GenVersion() {
  return rc::gen::build<Version>(
      rc::gen::set(&Version::user_key, GenUserKey()),
      rc::gen::set(&Version::sequence, GenSequence()),
      rc::gen::set(&Version::kind, rc::gen::element(EntryKind::kDelete, EntryKind::kValue)));
}

// --- layout and round trip ---

TEST(InternalKey, Layout_UserKeyThenLittleEndianSequenceShiftedOverKind) {
  const std::string key = MakeInternalKey("user", 0x0102030405060708 >> 8, EntryKind::kValue);
  // (0x01020304050607 << 8) | 1 = 0x0102030405060701, least significant byte first.
  EXPECT_EQ(key, std::string("user\x01\x07\x06\x05\x04\x03\x02\x01", 12));
  const std::string tombstone = MakeInternalKey("", 1, EntryKind::kDelete);
  EXPECT_EQ(tombstone, std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(PackTrailer(1, EntryKind::kDelete), 0x100u);
  EXPECT_EQ(ExtractTrailer(key), 0x0102030405060701u);
}

TEST(InternalKey, AppendInternalKey_KeepsWhatDstAlreadyHeld) {
  std::string dst = "prefix";
  AppendInternalKey(dst, "k", 7, EntryKind::kDelete);
  EXPECT_EQ(dst, "prefix" + MakeInternalKey("k", 7, EntryKind::kDelete));
}

RC_GTEST_PROP(InternalKeyProperty, MakeThenParse_ReturnsUserKeySequenceAndKind, ()) {
  const Version v = *GenVersion();
  const std::string key = Encode(v);
  RC_ASSERT(key.size() == v.user_key.size() + kTrailerSize);
  const auto parsed = ParseInternalKey(key);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed->user_key == v.user_key);
  RC_ASSERT(parsed->sequence == v.sequence);
  RC_ASSERT(parsed->kind == v.kind);
  // The parsed user key is a view into the key, not a copy.
  RC_ASSERT(parsed->user_key.data() == key.data());
  RC_ASSERT(ExtractUserKey(key) == v.user_key);
  RC_ASSERT(ExtractTrailer(key) == PackTrailer(v.sequence, v.kind));
}

TEST(InternalKey, LargestSequence_RoundTripsAllFiftySixBits) {
  const std::string key = MakeInternalKey("k", kMaxSequenceNumber, EntryKind::kValue);
  ASSERT_OK_AND_ASSIGN(const ParsedInternalKey parsed, ParseInternalKey(key));
  EXPECT_EQ(parsed.sequence, kMaxSequenceNumber);
  EXPECT_EQ(parsed.kind, EntryKind::kValue);
  EXPECT_EQ(key.substr(1), std::string("\x01\xff\xff\xff\xff\xff\xff\xff", 8));
}

TEST(InternalKeyDeathTest, SequenceOverFiftySixBits_Aborts) {
  EXPECT_DEATH((void)MakeInternalKey("k", kMaxSequenceNumber + 1, EntryKind::kValue), "56 bits");
}

// --- order ---

RC_GTEST_PROP(InternalKeyProperty, CompareInternalKeys_AgreesWithModelOrder, ()) {
  const auto versions = *rc::gen::container<std::vector<Version>>(GenVersion());
  for (const Version& a : versions) {
    const std::string ka = Encode(a);
    RC_ASSERT(CompareInternalKeys(ka, ka) == 0);
    for (const Version& b : versions) {
      const std::string kb = Encode(b);
      const int got = CompareInternalKeys(ka, kb);
      RC_ASSERT(Sign(got) == ModelCompare(a, b));
    }
  }
}

// Sorting with the comparator gives the model's sequence; in particular the versions of one user
// key are adjacent, newest first, and a tombstone sorts after a value at the same sequence.
RC_GTEST_PROP(InternalKeyProperty, SortWithComparator_EqualsModelSort, ()) {
  auto versions = *rc::gen::container<std::vector<Version>>(GenVersion());
  std::vector<std::string> keys;
  for (const Version& v : versions) keys.push_back(Encode(v));
  std::ranges::sort(keys, [](const std::string& a, const std::string& b) {
    return CompareInternalKeys(a, b) < 0;
  });
  std::ranges::sort(versions,
                    [](const Version& a, const Version& b) { return ModelCompare(a, b) < 0; });
  for (std::size_t i = 0; i < keys.size(); ++i) RC_ASSERT(keys[i] == Encode(versions[i]));
}

TEST(InternalKey, Compare_ExamplesFromTheFormatDocument) {
  auto cmp = [](const Version& a, const Version& b) {
    return Sign(CompareInternalKeys(Encode(a), Encode(b)));
  };
  // A proper prefix first, whatever the sequences.
  EXPECT_EQ(cmp({"ab", 1, EntryKind::kValue}, {"abc", 100, EntryKind::kValue}), -1);
  // Bytes compare unsigned: 0xff after 'a'.
  EXPECT_EQ(cmp({"\xff", 1, EntryKind::kValue}, {"a", 1, EntryKind::kValue}), 1);
  // Newer first: sequence 256 (trailer bytes 01 00 01 ...) before 255 (01 ff 00 ...).
  EXPECT_EQ(cmp({"k", 256, EntryKind::kValue}, {"k", 255, EntryKind::kValue}), -1);
  EXPECT_EQ(cmp({"k", kMaxSequenceNumber, EntryKind::kDelete}, {"k", 0, EntryKind::kValue}), -1);
  // Same sequence: the value before the tombstone.
  EXPECT_EQ(cmp({"k", 9, EntryKind::kValue}, {"k", 9, EntryKind::kDelete}), -1);
  EXPECT_EQ(cmp({"k", 9, EntryKind::kDelete}, {"k", 9, EntryKind::kDelete}), 0);
}

TEST(InternalKey, CompareUserKeys_IsBytewiseUnsignedPrefixFirst) {
  EXPECT_EQ(CompareUserKeys("a", "b"), -1);
  EXPECT_EQ(CompareUserKeys("b", "a"), 1);
  EXPECT_EQ(CompareUserKeys("a", "a"), 0);
  EXPECT_EQ(CompareUserKeys("", "a"), -1);
  EXPECT_EQ(CompareUserKeys("ab", "a"), 1);
  EXPECT_EQ(CompareUserKeys("\x80", "\x7f"), 1);
  EXPECT_EQ(CompareUserKeys(std::string_view("a\0", 2), "a"), 1);
}

// CompareUserKeys compares eight bytes at a time: check it against the standard library's
// bytewise order on keys that share long prefixes and differ at every position, in bytes on
// both sides of 0x80, with lengths around multiples of eight.
RC_GTEST_PROP(InternalKeyProperty, CompareUserKeys_AgreesWithBytewiseOrder, ()) {
  const auto prefix = *rc::gen::container<std::string>(
      *rc::gen::inRange<std::size_t>(0, 40), rc::gen::element('a', '\x7f', '\x80', '\xff', '\0'));
  const auto tail = [] {
    return rc::gen::container<std::string>(
        rc::gen::element('a', 'b', '\x7f', '\x80', '\xff', '\0'));
  };
  const std::string a = prefix + *tail();
  const std::string b = prefix + *tail();
  const int expected = a < b ? -1 : (a > b ? 1 : 0);
  RC_ASSERT(CompareUserKeys(a, b) == expected);
  RC_ASSERT(CompareUserKeys(b, a) == -expected);
}

TEST(InternalKey, CompareUserKeys_DifferenceInEveryByteOfAWord) {
  for (std::size_t size : {7, 8, 9, 15, 16, 17, 24}) {
    const std::string base(size, 'm');
    for (std::size_t i = 0; i < size; ++i) {
      std::string bigger = base;
      bigger[i] = '\x90';  // Above 0x7f: a signed comparison would get it wrong.
      EXPECT_EQ(CompareUserKeys(base, bigger), -1) << size << " " << i;
      EXPECT_EQ(CompareUserKeys(bigger, base), 1) << size << " " << i;
    }
    EXPECT_EQ(CompareUserKeys(base, base + std::string(1, '\0')), -1);
  }
}

// --- malformed keys ---

TEST(InternalKey, ShorterThanTrailer_IsCorruption) {
  const std::string bytes(kTrailerSize, '\x01');
  for (std::size_t n = 0; n < kTrailerSize; ++n) {
    SCOPED_TRACE(n);
    const auto parsed = ParseInternalKey(std::string_view(bytes).substr(0, n));
    EXPECT_STATUS(parsed, StatusCode::kCorruption);
  }
}

TEST(InternalKey, UnknownKind_IsCorruption_KnownKindsParse) {
  for (int kind = 0; kind < 256; ++kind) {
    SCOPED_TRACE(kind);
    std::string key = MakeInternalKey("k", 42, EntryKind::kDelete);
    key[1] = static_cast<char>(kind);  // The trailer's least significant byte is the kind.
    const auto parsed = ParseInternalKey(key);
    if (kind <= 1) {
      ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
      EXPECT_EQ(static_cast<int>(parsed->kind), kind);
      EXPECT_EQ(parsed->sequence, 42u);
    } else {
      EXPECT_STATUS(parsed, StatusCode::kCorruption);
    }
  }
}

TEST(InternalKey, EmptyUserKey_ExactlyATrailer_Parses) {
  ASSERT_OK_AND_ASSIGN(const ParsedInternalKey parsed,
                       ParseInternalKey(MakeInternalKey("", 3, EntryKind::kValue)));
  EXPECT_EQ(parsed.user_key, "");
  EXPECT_EQ(parsed.sequence, 3u);
}

// --- lookup keys ---

TEST(LookupKey, HoldsUserKeyAndSeekTrailer) {
  const LookupKey lookup("user", 77);
  EXPECT_EQ(lookup.user_key(), "user");
  EXPECT_EQ(lookup.internal_key(), MakeInternalKey("user", 77, kKindForSeek));
  ASSERT_OK_AND_ASSIGN(const ParsedInternalKey parsed, ParseInternalKey(lookup.internal_key()));
  EXPECT_EQ(parsed.user_key, "user");
  EXPECT_EQ(parsed.sequence, 77u);
  EXPECT_EQ(parsed.kind, EntryKind::kValue);
}

TEST(LookupKey, LongUserKey_HeldOutsideTheObject) {
  const std::string user_key(300, 'k');
  const LookupKey lookup(user_key, 5);
  EXPECT_EQ(lookup.user_key(), user_key);
  EXPECT_EQ(lookup.internal_key(), MakeInternalKey(user_key, 5, kKindForSeek));
  const LookupKey boundary(std::string(56, 'b'), 6);  // 64 bytes with the trailer: inline.
  EXPECT_EQ(boundary.internal_key(), MakeInternalKey(std::string(56, 'b'), 6, kKindForSeek));
  const LookupKey empty("", 7);
  EXPECT_EQ(empty.internal_key(), MakeInternalKey("", 7, kKindForSeek));
}

// The newest version of `user_key` with sequence <= `sequence` in `versions`, by a linear scan.
std::optional<Version> NewestAtOrBefore(const std::vector<Version>& versions,
                                        std::string_view user_key, SequenceNumber sequence) {
  std::optional<Version> best;
  for (const Version& v : versions) {
    if (v.user_key != user_key || v.sequence > sequence) continue;
    if (!best || v.sequence > best->sequence) best = v;
  }
  return best;
}

RC_GTEST_PROP(LookupKeyProperty, LowerBound_LandsOnNewestVersionAtOrBeforeSequence, ()) {
  // Distinct sequence numbers, as the tree hands them out; random user keys and kinds.
  const auto user_keys = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<std::string>>(rc::gen::resize(4, GenUserKey())));
  const auto sequences =
      *rc::gen::unique<std::vector<SequenceNumber>>(rc::gen::inRange<SequenceNumber>(0, 40));
  std::vector<Version> versions;
  for (SequenceNumber s : sequences) {
    versions.push_back({*rc::gen::elementOf(user_keys), s,
                        *rc::gen::element(EntryKind::kDelete, EntryKind::kValue)});
  }
  std::vector<std::string> sorted;
  for (const Version& v : versions) sorted.push_back(Encode(v));
  auto less = [](std::string_view a, std::string_view b) { return CompareInternalKeys(a, b) < 0; };
  std::ranges::sort(sorted, less);

  for (const std::string& user_key : user_keys) {
    for (SequenceNumber s = 0; s <= 41; ++s) {
      const LookupKey lookup(user_key, s);
      const auto it = std::ranges::lower_bound(sorted, lookup.internal_key(), less);
      const auto expected = NewestAtOrBefore(versions, user_key, s);
      if (!expected) {
        // Nothing at or before s: the seek lands past every version of the key.
        const bool past_key = it == sorted.end() || ExtractUserKey(*it) != user_key;
        RC_ASSERT(past_key);
      } else {
        RC_ASSERT(it != sorted.end());
        RC_ASSERT(*it == Encode(*expected));
      }
    }
    const LookupKey newest(user_key, kMaxSequenceNumber);
    const auto it = std::ranges::lower_bound(sorted, newest.internal_key(), less);
    const auto expected = NewestAtOrBefore(versions, user_key, kMaxSequenceNumber);
    const bool landed_on_key = it != sorted.end() && ExtractUserKey(*it) == user_key;
    RC_ASSERT(expected.has_value() == landed_on_key);
  }
}

}  // namespace
}  // namespace kv::storage::lsm
