// The ways a crash test cuts the power, shared by every suite that enumerates sync points.
//
// A crash test replays a workload, cuts the power at sync point n, reopens and checks what
// survived. Which unsynced bytes survive a real power cut is up to the device, so each cut is
// tried in several modes: all unsynced data dropped (the usual worst case for durability), and a
// few seeded random prefixes of it kept (the worst case for recovery: records torn mid-way).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/fault_file_system.h"

namespace kv::testing {

struct PowerCutMode {
  UnsyncedData unsynced = UnsyncedData::kDropAll;
  std::uint64_t seed = 0;  // For kKeepRandomPrefix.
  std::string name;        // "DropAll", "KeepRandomPrefix/3": for SCOPED_TRACE.
};

// DropAll, then KeepRandomPrefix with seeds 1..random_seeds.
inline std::vector<PowerCutMode> PowerCutModes(int random_seeds) {
  std::vector<PowerCutMode> modes = {{UnsyncedData::kDropAll, 0, "DropAll"}};
  for (int seed = 1; seed <= random_seeds; ++seed) {
    modes.push_back({UnsyncedData::kKeepRandomPrefix, static_cast<std::uint64_t>(seed),
                     fmt::format("KeepRandomPrefix/{}", seed)});
  }
  return modes;
}

}  // namespace kv::testing
