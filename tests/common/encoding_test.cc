#include "common/encoding.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"

namespace kv {
namespace {

TEST(Encoding, Fixed_IsLittleEndian) {
  std::string s;
  AppendFixed32(s, 0x04030201u);
  AppendFixed16(s, 0x0605u);
  AppendFixed64(s, 0x0e0d0c0b0a090807ull);
  ASSERT_EQ(s.size(), 14u);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], static_cast<char>(i + 1)) << i;
}

TEST(Encoding, Varint_KnownEncodings) {
  struct Case {
    std::uint64_t value;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {0, std::string("\x00", 1)},
      {1, "\x01"},
      {127, "\x7f"},
      {128, "\x80\x01"},
      {300, "\xac\x02"},
      {std::numeric_limits<std::uint64_t>::max(), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
  };
  for (const auto& c : cases) {
    std::string s;
    AppendVarint64(s, c.value);
    EXPECT_EQ(s, c.bytes) << c.value;
    EXPECT_EQ(VarintLength(c.value), static_cast<int>(c.bytes.size()));
  }
}

TEST(Encoding, Varint32_RejectsValuesAbove32Bits) {
  std::string s;
  AppendVarint64(s, std::uint64_t{1} << 32);
  Decoder d(s);
  EXPECT_STATUS(d.ReadVarint32(), StatusCode::kCorruption);
  EXPECT_EQ(d.offset(), 0u) << "a failed read consumes nothing";
}

TEST(Encoding, Varint64_RejectsElevenByteAndOverflowingEncodings) {
  std::string eleven(10, '\x80');
  eleven.push_back('\x01');
  EXPECT_STATUS(Decoder(eleven).ReadVarint64(), StatusCode::kCorruption);
  std::string overflow(9, '\xff');
  overflow.push_back('\x02');  // Bit 64 set.
  EXPECT_STATUS(Decoder(overflow).ReadVarint64(), StatusCode::kCorruption);
}

TEST(Encoding, Decoder_ErrorNamesOffset) {
  std::string s;
  AppendFixed32(s, 1);
  s.append("\x01\x02", 2);
  Decoder d(s);
  ASSERT_OK(d.ReadFixed32());
  Result<std::uint32_t> r = d.ReadFixed32();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kCorruption);
  EXPECT_NE(r.error().message().find("offset 4"), std::string::npos) << r.error().message();
}

TEST(Encoding, LengthPrefixed_TruncatedPayloadConsumesNothing) {
  std::string s;
  AppendLengthPrefixed(s, "hello");
  s.pop_back();
  Decoder d(s);
  EXPECT_STATUS(d.ReadLengthPrefixed(), StatusCode::kCorruption);
  EXPECT_EQ(d.offset(), 0u);
}

// --- properties ---

template <typename T>
void CheckFixedRoundTrip(T v) {
  std::string s;
  AppendFixed<T>(s, v);
  RC_ASSERT(s.size() == sizeof(T));
  Decoder d(s);
  Result<T> out = [&]() -> Result<T> {
    if constexpr (sizeof(T) == 1) return d.ReadFixed8();
    if constexpr (sizeof(T) == 2) return d.ReadFixed16();
    if constexpr (sizeof(T) == 4) return d.ReadFixed32();
    return d.ReadFixed64();
  }();
  RC_ASSERT(out.has_value());
  RC_ASSERT(*out == v);
  RC_ASSERT(d.empty());
}

RC_GTEST_PROP(EncodingProperty, Fixed8RoundTrips, (std::uint8_t v)) { CheckFixedRoundTrip(v); }
RC_GTEST_PROP(EncodingProperty, Fixed16RoundTrips, (std::uint16_t v)) { CheckFixedRoundTrip(v); }
RC_GTEST_PROP(EncodingProperty, Fixed32RoundTrips, (std::uint32_t v)) { CheckFixedRoundTrip(v); }
RC_GTEST_PROP(EncodingProperty, Fixed64RoundTrips, (std::uint64_t v)) { CheckFixedRoundTrip(v); }

RC_GTEST_PROP(EncodingProperty, Varint32RoundTrips, (std::uint32_t v)) {
  std::string s;
  AppendVarint32(s, v);
  RC_ASSERT(static_cast<int>(s.size()) == VarintLength(v));
  Decoder d(s);
  auto out = d.ReadVarint32();
  RC_ASSERT(out.has_value());
  RC_ASSERT(*out == v);
  RC_ASSERT(d.empty());
}

RC_GTEST_PROP(EncodingProperty, Varint64RoundTrips, ()) {
  // Spread values over all lengths: a random shift makes short encodings as likely as long ones.
  auto raw = *rc::gen::arbitrary<std::uint64_t>();
  auto shift = *rc::gen::inRange(0, 64);
  std::uint64_t v = raw >> shift;
  std::string s;
  AppendVarint64(s, v);
  Decoder d(s);
  auto out = d.ReadVarint64();
  RC_ASSERT(out.has_value());
  RC_ASSERT(*out == v);
  RC_ASSERT(d.empty());
}

// A record of every field kind; any strict prefix of its encoding must fail cleanly: an error,
// never a read past the end (the sanitizer build checks that) and never a wrong value.
RC_GTEST_PROP(EncodingProperty, EveryTruncationFailsCleanly,
              (std::uint16_t a, std::uint32_t b, std::uint64_t c, std::uint64_t d,
               std::string bytes)) {
  std::string full;
  AppendFixed16(full, a);
  AppendFixed32(full, b);
  AppendFixed64(full, c);
  AppendVarint64(full, d);
  AppendLengthPrefixed(full, bytes);

  auto decode_all = [&](std::string_view input) -> Status {
    Decoder dec(input);
    KV_ASSIGN_OR_RETURN(auto fa, dec.ReadFixed16());
    KV_ASSIGN_OR_RETURN(auto fb, dec.ReadFixed32());
    KV_ASSIGN_OR_RETURN(auto fc, dec.ReadFixed64());
    KV_ASSIGN_OR_RETURN(auto fd, dec.ReadVarint64());
    KV_ASSIGN_OR_RETURN(auto fe, dec.ReadLengthPrefixed());
    RC_ASSERT(fa == a);
    RC_ASSERT(fb == b);
    RC_ASSERT(fc == c);
    RC_ASSERT(fd == d);
    RC_ASSERT(fe == bytes);
    return Status::Ok();
  };
  RC_ASSERT(decode_all(full).ok());
  for (std::size_t len = 0; len < full.size(); ++len) {
    // A copy into an exactly-sized heap buffer, so AddressSanitizer sees any overread.
    std::string prefix = full.substr(0, len);
    prefix.shrink_to_fit();
    Status s = decode_all(prefix);
    RC_ASSERT(s.code() == StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace kv
