#include "phase1_single_node/limits.h"

#include <fmt/format.h>

namespace kv::phase1 {

Status ValidateKey(const Limits& limits, std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("empty key");
  if (key.size() > limits.max_key_bytes) {
    return Status::InvalidArgument(
        fmt::format("key of {} bytes exceeds the limit of {}", key.size(), limits.max_key_bytes));
  }
  return Status::Ok();
}

Status ValidateValue(const Limits& limits, std::string_view value) {
  if (value.size() > limits.max_value_bytes) {
    return Status::InvalidArgument(fmt::format("value of {} bytes exceeds the limit of {}",
                                               value.size(), limits.max_value_bytes));
  }
  return Status::Ok();
}

}  // namespace kv::phase1
