// Benchmarks of common/'s hot paths: CRC32C (both implementations) and varint decoding.
//   build/release/common/bench/common_bench
#include <benchmark/benchmark.h>

#include <string>

#include "common/crc32c.h"
#include "common/encoding.h"
#include "common/random.h"

namespace {

void BM_Crc32cPortable(benchmark::State& state) {
  std::string data = kv::Random(1).Bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(kv::crc32c::ExtendPortable(0, data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(100)->Arg(4096)->Arg(1 << 20);

void BM_Crc32cHardware(benchmark::State& state) {
  if (!kv::crc32c::HardwareAvailable()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  std::string data = kv::Random(1).Bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(kv::crc32c::ExtendHardware(0, data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cHardware)->Arg(100)->Arg(4096)->Arg(4200)->Arg(1 << 20);

void BM_Crc32cFolded(benchmark::State& state) {
  if (!kv::crc32c::FoldingAvailable()) {
    state.SkipWithError("no VPCLMULQDQ");
    return;
  }
  std::string data = kv::Random(1).Bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(kv::crc32c::ExtendFolded(0, data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cFolded)->Arg(256)->Arg(512)->Arg(1024)->Arg(4096)->Arg(4200)->Arg(1 << 20);

// 4 KiB blocks at random offsets of 256 MiB, so that (almost) every block comes from memory,
// not the CPU's cache: what verifying a table block read from a mapping costs.
template <bool kFolded>
void BM_Crc32cColdBlocks(benchmark::State& state) {
  if (kFolded ? !kv::crc32c::FoldingAvailable() : !kv::crc32c::HardwareAvailable()) {
    state.SkipWithError("no such instructions on this CPU");
    return;
  }
  constexpr std::size_t kArea = std::size_t{256} << 20;
  constexpr std::size_t kBlock = 4096;
  std::string area(kArea, '\0');
  kv::Random rng(3);
  for (std::size_t i = 0; i < kArea; i += 4096) area[i] = static_cast<char>(rng.Next());
  for (auto _ : state) {
    const std::size_t offset = rng.Uniform(kArea - kBlock);
    const std::string_view block = std::string_view(area).substr(offset, kBlock);
    benchmark::DoNotOptimize(kFolded ? kv::crc32c::ExtendFolded(0, block)
                                     : kv::crc32c::ExtendHardware(0, block));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBlock);
}
void BM_Crc32cHardwareColdBlocks(benchmark::State& state) { BM_Crc32cColdBlocks<false>(state); }
BENCHMARK(BM_Crc32cHardwareColdBlocks);
void BM_Crc32cFoldedColdBlocks(benchmark::State& state) { BM_Crc32cColdBlocks<true>(state); }
BENCHMARK(BM_Crc32cFoldedColdBlocks);

void BM_Varint64Decode(benchmark::State& state) {
  kv::Random rng(2);
  std::string buf;
  constexpr int kCount = 1024;
  for (int i = 0; i < kCount; ++i) kv::AppendVarint64(buf, rng.Next() >> rng.Uniform(64));
  for (auto _ : state) {
    kv::Decoder d(buf);
    for (int i = 0; i < kCount; ++i) benchmark::DoNotOptimize(d.ReadVarint64());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kCount);
}
BENCHMARK(BM_Varint64Decode);

}  // namespace

BENCHMARK_MAIN();
