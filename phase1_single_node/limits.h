// Limits on keys and values, and the checks every write goes through.
//
// Keys are 1 byte to 1 KiB and values 0 bytes to 1 MiB by default (the course's milestone 1);
// a store may be opened with other limits. A write that breaks a limit is kInvalidArgument and
// changes nothing. An empty value is allowed: it is a value, distinct from an absent key.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace kv::phase1 {

struct Limits {
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 1024 * 1024;
};

// kInvalidArgument if `key` is empty or longer than limits.max_key_bytes.
Status ValidateKey(const Limits& limits, std::string_view key);
// kInvalidArgument if `value` is longer than limits.max_value_bytes.
Status ValidateValue(const Limits& limits, std::string_view value);

}  // namespace kv::phase1
