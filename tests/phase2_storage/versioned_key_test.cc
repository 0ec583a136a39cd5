// The versioned-key encoding: bytewise order of encoded keys is (user key ascending, timestamp
// descending), and decoding inverts encoding.
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "common/testing/status_matchers.h"
#include "phase2_storage/versioned_key.h"

namespace kv::storage {
namespace {

// Keys drawn from a tiny alphabet with 0x00, 0x01 and 0xff, so prefixes and escapes collide often.
rc::Gen<std::string> SmallKeys() {
  return rc::gen::container<std::string>(
      rc::gen::elementOf(std::string("\x00\x01\xff"
                                     "a",
                                     4)));
}

RC_GTEST_PROP(VersionedKey, AnyTwoVersions_SortByKeyThenNewestFirst, ()) {
  const std::string k1 = *SmallKeys();
  const std::string k2 = *SmallKeys();
  const auto t1 = *rc::gen::arbitrary<std::uint64_t>();
  const auto t2 = *rc::gen::arbitrary<std::uint64_t>();
  const std::string e1 = VersionedKey(k1, t1);
  const std::string e2 = VersionedKey(k2, t2);
  // std::string compares as unsigned bytes (char_traits<char>::compare uses memcmp semantics).
  const bool model_less = k1 < k2 || (k1 == k2 && t1 > t2);
  RC_ASSERT((e1 < e2) == model_less);
  RC_ASSERT((e1 == e2) == (k1 == k2 && t1 == t2));
}

RC_GTEST_PROP(VersionedKey, Decode_InvertsEncode, ()) {
  const std::string key = *SmallKeys();
  const auto ts = *rc::gen::arbitrary<std::uint64_t>();
  auto decoded = DecodeVersionedKey(VersionedKey(key, ts));
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(decoded->user_key == key);
  RC_ASSERT(decoded->timestamp == ts);
}

RC_GTEST_PROP(VersionedKey, PrefixOfAKey_StartsExactlyItsVersions, ()) {
  const std::string k1 = *SmallKeys();
  const std::string k2 = *SmallKeys();
  std::string prefix;
  AppendVersionedKeyPrefix(prefix, k1);
  const std::string e2 = VersionedKey(k2, *rc::gen::arbitrary<std::uint64_t>());
  RC_ASSERT(e2.starts_with(prefix) == (k1 == k2));
}

TEST(VersionedKey, PlainConcatenationWouldInterleave_EscapingDoesNot) {
  // The counter-example from the header: "a" at an old timestamp vs "ab".
  const std::string a_old = VersionedKey("a", 1);  // Inverted ts starts with 0xff.
  const std::string ab = VersionedKey("ab", 1);
  EXPECT_LT(a_old, ab);
}

TEST(VersionedKey, KeyEndingInZeroByte_SortsAfterItsPrefix) {
  // Without the escape, "a\0" would be written 61 00 00 01... and sort before "a" (61 00 01...).
  const std::string a = VersionedKey("a", 7);
  const std::string a_nul = VersionedKey(std::string("a\0", 2), 7);
  EXPECT_LT(a, a_nul);
  EXPECT_LT(VersionedKey(std::string("a\0", 2), 7), VersionedKey(std::string("a\0\0", 3), 7));
}

TEST(VersionedKey, MalformedKeys_AreCorruption) {
  EXPECT_STATUS(DecodeVersionedKey("").status(), StatusCode::kCorruption);
  EXPECT_STATUS(DecodeVersionedKey("abc").status(), StatusCode::kCorruption);
  std::string bad_escape = "a";
  bad_escape += std::string("\x00\x02", 2);
  EXPECT_STATUS(DecodeVersionedKey(bad_escape).status(), StatusCode::kCorruption);
  std::string short_ts = VersionedKey("a", 5);
  short_ts.pop_back();
  EXPECT_STATUS(DecodeVersionedKey(short_ts).status(), StatusCode::kCorruption);
  std::string long_ts = VersionedKey("a", 5) + "x";
  EXPECT_STATUS(DecodeVersionedKey(long_ts).status(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace kv::storage
