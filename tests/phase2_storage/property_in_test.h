// RapidCheck properties inside value-parameterised gtest tests.
//
// RC_GTEST_PROP defines a plain TEST, which cannot take a parameter; the shared engine suites
// are TEST_Ps. CheckPropertyInTest runs a property from inside the current test and fails it
// with RapidCheck's report (the seed and the shrunk counter-example) if the property fails.
// As with RC_GTEST_PROP, RC_PARAMS="seed=<seed>" replays a failure (docs/testing.md).
//
//   TEST_P(EngineConformance, Something) {
//     CheckPropertyInTest(20, [&] { RandomThing(GetParam()); });
//   }
#pragma once

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <rapidcheck.h>

namespace kv::storage::testing {

// Runs `property` for `max_success` random cases (the property tests of the engine suites are
// expensive: each case opens an engine and drives it through flushes and reopens), or for
// RapidCheck's own max_success if RC_PARAMS sets one.
template <typename Property>
void CheckPropertyInTest(int max_success, Property&& property) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  // The id RC_PARAMS="reproduce=..." refers to, as RC_GTEST_PROP makes it.
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  const char* rc_params = std::getenv("RC_PARAMS");
  if (rc_params == nullptr ||
      std::string_view(rc_params).find("max_success") == std::string_view::npos) {
    params.maxSuccess = std::min(params.maxSuccess, max_success);
  }
  const auto result = rc::detail::checkTestable(std::forward<Property>(property), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream report;
    rc::detail::printResultMessage(result, report);
    FAIL() << report.str();
  }
}

}  // namespace kv::storage::testing
