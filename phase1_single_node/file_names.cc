#include "phase1_single_node/file_names.h"

#include <fmt/format.h>

namespace kv::phase1 {
std::optional<std::uint64_t> ParseNumberedName(std::string_view name, std::string_view prefix,
                                               std::string_view suffix) {
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

std::string WalSegmentName(std::uint64_t number) { return fmt::format("wal-{:06}.log", number); }
std::string CheckpointName(std::uint64_t n) { return fmt::format("checkpoint-{:06}.ckpt", n); }

std::optional<std::uint64_t> ParseWalSegmentName(std::string_view name) {
  return ParseNumberedName(name, "wal-", ".log");
}
std::optional<std::uint64_t> ParseCheckpointName(std::string_view name) {
  return ParseNumberedName(name, "checkpoint-", ".ckpt");
}

}  // namespace kv::phase1
