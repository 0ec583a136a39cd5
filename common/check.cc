#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace kv::internal {

void CheckFailed(const char* condition, const char* file, int line, std::string_view message) {
  std::fprintf(stderr, "%s:%d: KV_CHECK(%s) failed: %.*s\n", file, line, condition,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace kv::internal
