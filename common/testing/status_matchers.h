// Test helpers for Status and Result<T>: ASSERT_OK / EXPECT_OK print the failing Status.
//
//   ASSERT_OK(fs.SyncDir("d"));                 // a Status
//   ASSERT_OK(fs.FileSize("f"));                // or a Result<T>
//   ASSERT_OK_AND_ASSIGN(auto file, fs.NewWritableFile("f"));
//   EXPECT_STATUS(fs.FileSize("gone"), kv::StatusCode::kNotFound);
#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

namespace kv::testing {

inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}

}  // namespace kv::testing

#define KV_TESTING_CHECK_OK_(expr, fail)                                   \
  do {                                                                     \
    const ::kv::Status kv_testing_status_ = ::kv::testing::ToStatus(expr); \
    if (!kv_testing_status_.ok()) {                                        \
      fail() << #expr << " returned " << kv_testing_status_.ToString();    \
    }                                                                      \
  } while (false)

#define ASSERT_OK(expr) KV_TESTING_CHECK_OK_(expr, FAIL)
#define EXPECT_OK(expr) KV_TESTING_CHECK_OK_(expr, ADD_FAILURE)

#define EXPECT_STATUS(expr, expected_code)                                 \
  do {                                                                     \
    const ::kv::Status kv_testing_status_ = ::kv::testing::ToStatus(expr); \
    EXPECT_EQ(kv_testing_status_.code(), expected_code)                    \
        << #expr << " returned " << kv_testing_status_.ToString();         \
  } while (false)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(KV_STATUS_CONCAT_(kv_testing_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                                 \
  auto tmp = (expr);                                                               \
  ASSERT_TRUE(tmp.has_value()) << #expr << " returned " << tmp.error().ToString(); \
  lhs = std::move(tmp).value()
