#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "common/clock.h"
#include "common/random.h"
#include "common/testing/seed.h"

namespace kv {
namespace {

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(100);
  EXPECT_EQ(clock.NowMicros(), 100u);
  EXPECT_EQ(clock.NowMicros(), 100u);
  clock.Advance(50);
  EXPECT_EQ(clock.NowMicros(), 150u);
  clock.SleepForMicros(1'000'000);  // Returns at once, having advanced the clock.
  EXPECT_EQ(clock.NowMicros(), 1'000'150u);
  clock.Set(2'000'000);
  EXPECT_EQ(clock.NowMicros(), 2'000'000u);
}

TEST(ManualClockDeathTest, SetBackwardsAborts) {
  ManualClock clock(10);
  EXPECT_DEATH(clock.Set(5), "backwards");
}

TEST(SystemClock, IsMonotonicAndSleeps) {
  SystemClock clock;
  std::uint64_t a = clock.NowMicros();
  clock.SleepForMicros(2000);
  std::uint64_t b = clock.NowMicros();
  EXPECT_GE(b - a, 2000u);
  EXPECT_GT(clock.WallMicros(), 1'600'000'000'000'000u) << "wall clock is after 2020";
}

TEST(Random, SameSeedSameSequence) {
  Random a(42);
  Random b(42);
  Random c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    std::uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= (x != c.Next());
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(a.seed(), 42u);
}

TEST(Random, UniformCoversRangeWithoutLeavingIt) {
  testing::TestRandom rng;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    std::uint64_t v = rng.Uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(Random, UniformIsRoughlyFlat) {
  // 60,000 draws over 6 buckets: each expects 10,000; a fair source stays within 5% with
  // overwhelming probability (the standard deviation is ~91).
  testing::TestRandom rng;
  int counts[6] = {};
  for (int i = 0; i < 60'000; ++i) ++counts[rng.Uniform(6)];
  for (int c : counts) {
    EXPECT_GT(c, 9'500);
    EXPECT_LT(c, 10'500);
  }
}

TEST(Random, LettersAndBytes) {
  testing::TestRandom rng;
  std::string letters = rng.Letters(100);
  ASSERT_EQ(letters.size(), 100u);
  for (char ch : letters) EXPECT_TRUE(ch >= 'a' && ch <= 'z');
  EXPECT_EQ(rng.Bytes(17).size(), 17u);
}

RC_GTEST_PROP(RandomProperty, RangeStaysInBounds,
              (std::uint64_t seed, std::uint32_t lo, std::uint32_t width)) {
  Random rng(seed);
  std::uint64_t hi = std::uint64_t{lo} + width;
  for (int i = 0; i < 100; ++i) {
    std::uint64_t v = rng.Range(lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
}

}  // namespace
}  // namespace kv
