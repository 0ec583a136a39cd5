#include "common/clock.h"

#include <chrono>
#include <thread>

#include "common/check.h"

namespace kv {

std::uint64_t SystemClock::NowMicros() const {
  auto d = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::uint64_t SystemClock::WallMicros() const {
  auto d = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

void SystemClock::SleepForMicros(std::uint64_t micros) {
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
}

void ManualClock::Set(std::uint64_t micros) {
  // Invariant: a clock never goes backwards.
  KV_CHECK(micros >= now_.load(), "ManualClock::Set would move time backwards");
  now_.store(micros);
}

}  // namespace kv
