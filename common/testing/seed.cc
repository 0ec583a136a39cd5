#include "common/testing/seed.h"

#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace kv::testing {

std::uint64_t ChooseTestSeed() {
  if (const char* env = std::getenv("KV_TEST_SEED"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    std::uint64_t seed = std::strtoull(env, &end, 10);
    if (end != nullptr && *end == '\0') return seed;
  }
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

TestRandom::~TestRandom() {
  if (::testing::Test::HasFailure()) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name =
        info == nullptr ? "" : std::string(info->test_suite_name()) + "." + info->name();
    std::fprintf(stderr,
                 "[   SEED   ] %s used seed %llu; reproduce with KV_TEST_SEED=%llu "
                 "--gtest_filter=%s\n",
                 name.c_str(), static_cast<unsigned long long>(seed()),
                 static_cast<unsigned long long>(seed()), name.c_str());
  }
}

}  // namespace kv::testing
