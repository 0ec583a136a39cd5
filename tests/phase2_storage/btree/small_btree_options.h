// B+tree options for tests: 1 KiB pages, so a few hundred writes build a tree of several levels
// with overflow chains; the smallest pool allowed (64 frames), so pages are evicted and read
// back all the time; checkpoints every 16 KiB of log.
#pragma once

#include "phase2_storage/btree/btree_engine.h"

namespace kv::storage::btree {

inline BTreeOptions SmallBTreeOptions() {
  BTreeOptions o;
  o.page_size = 1024;
  o.buffer_pool_bytes = 64 * 1024;
  o.checkpoint_log_bytes = 16 * 1024;
  return o;
}

}  // namespace kv::storage::btree
