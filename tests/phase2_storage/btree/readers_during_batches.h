// The B+tree's readers-against-a-writer check, shared by the in-memory suite (btree_engine_test)
// and the POSIX one (btree_mapped_test, where readers copy leaves from the page file's mapping).
//
// A writer rewrites groups of keys, each batch setting every key of a group to one new version,
// while readers scan groups through iterators (half of them at a snapshot, checked against Get
// at that snapshot) and get single keys. Every scan must see one version across its group, and
// every value must be one written for its key.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/btree_engine.h"

namespace kv::storage::btree {

struct BatchRace {
  int groups = 12;
  int readers = 3;
  int versions = 300;
  int checkpoint_every = 50;
};

inline void RunReadersDuringBatches(BTreeEngine& engine, const BatchRace& race) {
  constexpr int kPerGroup = 8;
  auto prefix = [](int g) { return fmt::format("g{:03}-", g); };
  auto key = [&](int g, int i) { return fmt::format("{}k{}", prefix(g), i); };
  auto value = [&](int g, int i, int version) {
    // Now and then a value of 2000 bytes, in overflow pages.
    const std::size_t size = (version * 131 + i) % 7 == 0 ? 2000 : 40;
    return fmt::format("{}={}|", key(g, i), version) + std::string(size, 'v');
  };
  auto version_of = [](std::string_view v) {
    const auto eq = v.find('=');
    const auto bar = v.find('|');
    return std::stoi(std::string(v.substr(eq + 1, bar - eq - 1)));
  };
  for (int g = 0; g < race.groups; ++g) {
    WriteBatch b;
    for (int i = 0; i < kPerGroup; ++i) b.Put(key(g, i), value(g, i, 0));
    ASSERT_OK(engine.Write({}, b));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<long> reads{0};
  auto reader = [&](int seed) {
    Random rnd(static_cast<std::uint64_t>(seed));
    while (!stop.load()) {
      const int g = static_cast<int>(rnd.Uniform(static_cast<std::uint64_t>(race.groups)));
      std::unique_ptr<Snapshot> snap;
      ReadOptions ro;
      if (rnd.Uniform(2) == 0) {
        snap = engine.GetSnapshot();
        ro.snapshot = snap.get();
      }
      auto it = engine.NewIterator(ro);
      it->Seek(key(g, 0));
      int seen = 0;
      int version = -1;
      for (; it->Valid() && it->key().starts_with(prefix(g)); it->Next(), ++seen) {
        const std::string_view v = it->value();
        if (!v.starts_with(std::string(it->key()) + "=")) ++failures;
        if (version == -1) version = version_of(v);
        if (version_of(v) != version) ++failures;
        if (snap) {
          auto got = engine.Get(ro, it->key());
          if (!got.has_value() || *got != v) ++failures;
        }
      }
      if (!it->status().ok() || seen != kPerGroup) ++failures;
      const std::string k = key(g, static_cast<int>(rnd.Uniform(kPerGroup)));
      auto got = engine.Get({}, k);
      if (!got.has_value() || !got->starts_with(k + "=")) ++failures;
      reads.fetch_add(1);
    }
  };
  std::vector<std::thread> readers;
  // Stops and joins the readers however this function returns (a failed ASSERT returns early).
  struct JoinAtExit {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinAtExit() {
      stop.store(true);
      for (auto& t : threads) t.join();
    }
  } join_at_exit{stop, readers};
  for (int r = 0; r < race.readers; ++r) readers.emplace_back(reader, r + 1);
  // The writer starts once every reader has read something, so the two always overlap.
  while (reads.load() < race.readers) std::this_thread::yield();
  for (int version = 1; version <= race.versions; ++version) {
    const int g = version % race.groups;
    WriteBatch b;
    for (int i = 0; i < kPerGroup; ++i) b.Put(key(g, i), value(g, i, version));
    ASSERT_OK(engine.Write({}, b));
    if (version % race.checkpoint_every == 0) ASSERT_OK(engine.Checkpoint());
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  readers.clear();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  ASSERT_OK(engine.CheckInvariants());
}

}  // namespace kv::storage::btree
