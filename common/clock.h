// Clock: the seam between the project and time.
//
// Code that needs the time takes a Clock& in its constructor. SystemClock reads the real clocks;
// ManualClock only moves when a test moves it, so time-dependent behaviour (periodic sync,
// election timeouts in phase 3) can be tested without sleeping and without flakiness.
//
// Thread safety: both implementations are safe to share between threads.
#pragma once

#include <atomic>
#include <cstdint>

namespace kv {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds on a clock that never goes backwards (steady), from an arbitrary origin.
  virtual std::uint64_t NowMicros() const = 0;
  // Microseconds since the Unix epoch (wall time; may jump). For display and file names only.
  virtual std::uint64_t WallMicros() const = 0;
  // Blocks the caller for `micros` (SystemClock) or advances the clock by it (ManualClock).
  virtual void SleepForMicros(std::uint64_t micros) = 0;
};

class SystemClock final : public Clock {
 public:
  std::uint64_t NowMicros() const override;
  std::uint64_t WallMicros() const override;
  void SleepForMicros(std::uint64_t micros) override;
};

// A clock that a test drives. SleepForMicros() does not block: it advances the clock, so a
// single-threaded test of code that sleeps runs instantly and deterministically.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::uint64_t start_micros = 0) : now_(start_micros) {}

  std::uint64_t NowMicros() const override { return now_.load(); }
  std::uint64_t WallMicros() const override { return now_.load(); }
  void SleepForMicros(std::uint64_t micros) override { Advance(micros); }

  void Advance(std::uint64_t micros) { now_.fetch_add(micros); }
  // REQUIRES: micros >= NowMicros() — the clock never goes backwards.
  void Set(std::uint64_t micros);

 private:
  std::atomic<std::uint64_t> now_;
};

}  // namespace kv
