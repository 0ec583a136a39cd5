// Factories of the engine adapters. Each reference adapter is compiled only when CMake found
// its Debian package (KV_HAVE_LEVELDB, KV_HAVE_ROCKSDB, KV_HAVE_LMDB, KV_HAVE_SQLITE).
#pragma once

#include <memory>

#include "phase2_storage/bench/engine.h"

namespace kv::bench {

std::unique_ptr<Engine> NewMemEngine();        // Phase 1's Store (always built).
std::unique_ptr<Engine> NewLsmEngine();        // Phase 2's LSM tree (always built).
std::unique_ptr<Engine> NewLsmTieredEngine();  // The same with size-tiered compaction.
std::unique_ptr<Engine> NewBTreeEngine();      // Phase 2's B+tree (always built).
#ifdef KV_HAVE_LEVELDB
std::unique_ptr<Engine> NewLevelDbEngine();
#endif
#ifdef KV_HAVE_ROCKSDB
std::unique_ptr<Engine> NewRocksDbEngine();
#endif
#ifdef KV_HAVE_LMDB
std::unique_ptr<Engine> NewLmdbEngine();
#endif
#ifdef KV_HAVE_SQLITE
std::unique_ptr<Engine> NewSqliteEngine();
#endif

}  // namespace kv::bench
