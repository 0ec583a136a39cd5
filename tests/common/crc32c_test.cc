#include "common/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <string>
#include <thread>

namespace kv {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

// 20,000 bytes from a fixed linear congruential sequence.
std::string LongInput() {
  std::string data(20000, '\0');
  std::uint64_t x = 1;
  for (char& c : data) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(x >> 56);
  }
  return data;
}

// `extend` gives the portable path's CRC for every slice of LongInput() of these sizes, at every
// start alignment from 0 to 7.
void ExpectAgreesWithPortable(std::uint32_t (*extend)(std::uint32_t, std::string_view),
                              std::initializer_list<std::size_t> sizes) {
  const std::string data = LongInput();
  for (std::size_t size : sizes) {
    for (std::size_t start = 0; start < 8; ++start) {
      const std::string_view v = std::string_view(data).substr(start, size);
      ASSERT_EQ(extend(0x12345678u, v), crc32c::ExtendPortable(0x12345678u, v))
          << "size " << size << " start " << start;
    }
  }
}

// RFC 3720, appendix B.4 (iSCSI), and the common check value for "123456789".
TEST(Crc32c, Rfc3720TestVectors) {
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  // An iSCSI SCSI Read (10) command PDU.
  std::string pdu = Bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                           0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(crc32c::Value(zeros), 0x8a9136aau);
  EXPECT_EQ(crc32c::Value(ones), 0x62a8ab43u);
  EXPECT_EQ(crc32c::Value(ascending), 0x46dd794eu);
  EXPECT_EQ(crc32c::Value(descending), 0x113fdb5cu);
  EXPECT_EQ(crc32c::Value(pdu), 0xd9963a56u);
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c::ExtendPortable(0, zeros), 0x8a9136aau);
  EXPECT_EQ(crc32c::ExtendPortable(0, pdu), 0xd9963a56u);
}

TEST(Crc32c, ExtendEqualsValueOfConcatenation) {
  EXPECT_EQ(crc32c::Value("hello world"), crc32c::Extend(crc32c::Value("hello "), "world"));
}

TEST(Crc32c, MaskRoundTripsAndChangesValue) {
  std::uint32_t crc = crc32c::Value("foo");
  EXPECT_NE(crc32c::Mask(crc), crc);
  EXPECT_NE(crc32c::Mask(crc32c::Mask(crc)), crc);
  EXPECT_EQ(crc32c::Unmask(crc32c::Mask(crc)), crc);
  EXPECT_EQ(crc32c::Unmask(crc32c::Unmask(crc32c::Mask(crc32c::Mask(crc)))), crc);
}

RC_GTEST_PROP(Crc32cProperty, HardwareAndPortableAgree, (std::string data, std::uint32_t seed)) {
  if (!crc32c::HardwareAvailable()) {
    RC_SUCCEED("no SSE4.2 on this CPU: only the portable path exists");
  }
  RC_ASSERT(crc32c::ExtendHardware(seed, data) == crc32c::ExtendPortable(seed, data));
}

// rapidcheck's strings are short; the hardware path's three-chain rounds start at 384 bytes (and
// at 3 KiB for the long ones), so lengths around and past those are checked here, at every start
// alignment, against the portable path.
TEST(Crc32c, HardwareAndPortableAgreeOnLongInputs) {
  if (!crc32c::HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  ExpectAgreesWithPortable(crc32c::ExtendHardware, {383, 384, 385, 1000, 3071, 3072, 3073, 3455,
                                                    3456, 4096, 4103, 4231, 8192, 16384, 19993});
}

// The carry-less path folds 128-byte windows (crc32c.cc): lengths around one, two and many
// windows, at every start alignment, against the portable path.
TEST(Crc32c, FoldedAndPortableAgree) {
  if (!crc32c::FoldingAvailable()) GTEST_SKIP() << "no VPCLMULQDQ on this CPU";
  ExpectAgreesWithPortable(crc32c::ExtendFolded, {0, 1, 127, 128, 129, 255, 256, 257, 511, 512,
                                                  1000, 4092, 4096, 8191, 19993});
}

RC_GTEST_PROP(Crc32cProperty, FoldedAndPortableAgree, (std::uint32_t seed)) {
  if (!crc32c::FoldingAvailable()) RC_SUCCEED("no VPCLMULQDQ on this CPU");
  const auto size = *rc::gen::inRange<std::size_t>(0, 3000);
  const auto data = *rc::gen::container<std::string>(size, rc::gen::arbitrary<char>());
  RC_ASSERT(crc32c::ExtendFolded(seed, data) == crc32c::ExtendPortable(seed, data));
}

// The copy is exact and its CRC is Extend's, on both sides of the 512 bytes where Extend() takes
// the carry-less path.
RC_GTEST_PROP(Crc32cProperty, CopyAndExtendCopiesAndGivesExtend, (std::uint32_t seed)) {
  const auto size = *rc::gen::inRange<std::size_t>(0, 3000);
  const auto data = *rc::gen::container<std::string>(size, rc::gen::arbitrary<char>());
  std::string out(size + 1, '#');
  RC_ASSERT(crc32c::CopyAndExtend(seed, data, out.data()) == crc32c::ExtendPortable(seed, data));
  RC_ASSERT(out.substr(0, size) == data);
  RC_ASSERT(out.back() == '#');  // Not a byte past the end.
}

// The property a reader copying a page that a write-back may be changing relies on: the CRC is
// the copy's, whatever the source does meanwhile. A thread keeps flipping bytes of the source;
// a checksum that read the source again, rather than the bytes it stored, would disagree with
// the copy. (Racing on purpose, so not under ThreadSanitizer.)
TEST(Crc32c, CopyAndExtend_SourceChangingMeanwhile_CrcIsTheCopys) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the source is written while it is read, on purpose";
#else
  std::string source = LongInput().substr(0, 4096);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::uint64_t x = 7;
    while (!stop.load(std::memory_order_relaxed)) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      std::atomic_ref<char>(source[(x >> 33) % source.size()])
          .fetch_xor(static_cast<char>(1 + (x >> 60)), std::memory_order_relaxed);
    }
  });
  std::string copy(source.size(), '\0');
  int mismatches = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::uint32_t crc = crc32c::CopyAndExtend(1, source, copy.data());
    mismatches += crc != crc32c::ExtendPortable(1, copy);
  }
  stop = true;
  writer.join();
  EXPECT_EQ(mismatches, 0);
#endif
}

RC_GTEST_PROP(Crc32cProperty, SplitAnywhereGivesSameCrc, (std::string data)) {
  auto cut = *rc::gen::inRange<std::size_t>(0, data.size() + 1);
  std::string_view v(data);
  RC_ASSERT(crc32c::Extend(crc32c::Value(v.substr(0, cut)), v.substr(cut)) == crc32c::Value(v));
}

RC_GTEST_PROP(Crc32cProperty, DetectsEverySingleBitFlip, (std::string data)) {
  RC_PRE(!data.empty());
  auto bit = *rc::gen::inRange<std::size_t>(0, data.size() * 8);
  std::string flipped = data;
  flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
  RC_ASSERT(crc32c::Value(flipped) != crc32c::Value(data));
}

}  // namespace
}  // namespace kv
