// KV_CHECK: the guard for invariants of the program itself.
//
// A failed check is a bug, not a runtime condition: it prints the condition, the place and a
// message to stderr and aborts, in every build type (unlike assert, it is never compiled out).
// Runtime failures (bad input, I/O errors, corruption on disk) return a Status instead.
#pragma once

#include <string_view>

namespace kv::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line,
                              std::string_view message);
}  // namespace kv::internal

#define KV_CHECK(cond, ...)                                                                  \
  do {                                                                                       \
    if (!(cond)) [[unlikely]] {                                                              \
      ::kv::internal::CheckFailed(#cond, __FILE__, __LINE__, std::string_view{__VA_ARGS__}); \
    }                                                                                        \
  } while (false)
