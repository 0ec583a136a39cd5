// B+tree options for tests: 1 KiB pages, so a few hundred writes build a tree of several levels
// with overflow chains; the smallest pool allowed (64 frames), so pages are evicted and read
// back all the time; checkpoints every 16 KiB of log. And a seeded shuffle for key orders.
#pragma once

#include <numeric>
#include <utility>
#include <vector>

#include "common/random.h"
#include "phase2_storage/btree/btree_engine.h"

namespace kv::storage::btree {

inline BTreeOptions SmallBTreeOptions() {
  BTreeOptions o;
  o.page_size = 1024;
  o.buffer_pool_bytes = 64 * 1024;
  o.checkpoint_log_bytes = 16 * 1024;
  return o;
}

// Shuffles `order` in place (Fisher-Yates, with the test's seeded source).
inline void Shuffle(std::vector<int>& order, Random& rnd) {
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rnd.Uniform(i)]);
}

// 0 .. n-1 in a random order.
inline std::vector<int> ShuffledKeys(int n, Random& rnd) {
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Shuffle(order, rnd);
  return order;
}

}  // namespace kv::storage::btree
