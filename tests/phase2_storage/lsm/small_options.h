// LSM options for tests: tiny sizes, so a few hundred writes go through many flushes and
// compactions at every level; no background thread, so a test (and a crash test's sync-point
// count) decides exactly when each flush and compaction happens.
#pragma once

#include "phase2_storage/lsm/lsm_engine.h"

namespace kv::storage::lsm {

inline LsmOptions SmallLsmOptions() {
  LsmOptions o;
  o.write_buffer_size = 16 * 1024;
  o.max_file_size = 2 * 1024;
  o.level_base_bytes = 8 * 1024;
  o.level_size_ratio = 4;
  o.level0_compaction_trigger = 2;
  o.table.block_size = 256;
  o.block_cache_bytes = 64 * 1024;
  o.background_work = false;
  return o;
}

// The same for size-tiered compaction: two similar runs merge, more than four force a merge.
inline LsmOptions SmallTieredOptions() {
  LsmOptions o = SmallLsmOptions();
  o.compaction_style = LsmOptions::CompactionStyle::kSizeTiered;
  o.tiered_min_merge = 2;
  o.tiered_max_runs = 4;
  return o;
}

}  // namespace kv::storage::lsm
