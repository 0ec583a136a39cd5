// Seeds for randomized tests that do not go through RapidCheck.
//
// A TestRandom is a kv::Random whose seed comes from the environment variable KV_TEST_SEED if
// set, and from std::random_device otherwise. If the test that owns it has failed by the time it
// is destroyed, it prints the seed and the command to replay it:
//
//   TEST(Wal, RandomCuts) {
//     kv::testing::TestRandom rng;      // prints "KV_TEST_SEED=1234 reproduces ..." on failure
//     ...
//   }
//
// RapidCheck properties print their own seed and shrunk counter-example; replay those with
// RC_PARAMS="seed=<seed>" (see docs/testing.md).
#pragma once

#include <cstdint>

#include "common/random.h"

namespace kv::testing {

// KV_TEST_SEED if set (and a valid number), else a fresh random seed.
std::uint64_t ChooseTestSeed();

class TestRandom : public Random {
 public:
  TestRandom() : Random(ChooseTestSeed()) {}
  explicit TestRandom(std::uint64_t seed) : Random(seed) {}
  ~TestRandom();
  TestRandom(const TestRandom&) = delete;
  TestRandom& operator=(const TestRandom&) = delete;
};

}  // namespace kv::testing
