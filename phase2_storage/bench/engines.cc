#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

EngineInfo Built(std::string name, std::unique_ptr<Engine> (*make)()) {
  return EngineInfo{std::move(name), true, "", make};
}
[[maybe_unused]] EngineInfo Missing(std::string name, std::string why) {
  return EngineInfo{std::move(name), false, std::move(why), nullptr};
}

}  // namespace

const std::vector<EngineInfo>& KnownEngines() {
  static const std::vector<EngineInfo> engines = [] {
    std::vector<EngineInfo> e;
    e.push_back(Built("mem", NewMemEngine));
    e.push_back(Built("lsm", NewLsmEngine));
    e.push_back(Built("lsm-tiered", NewLsmTieredEngine));
    e.push_back(Built("btree", NewBTreeEngine));
#ifdef KV_HAVE_LEVELDB
    e.push_back(Built("leveldb", NewLevelDbEngine));
#else
    e.push_back(Missing("leveldb", "not built: install libleveldb-dev and reconfigure"));
#endif
#ifdef KV_HAVE_ROCKSDB
    e.push_back(Built("rocksdb", NewRocksDbEngine));
#else
    e.push_back(Missing("rocksdb", "not built: install librocksdb-dev and reconfigure"));
#endif
#ifdef KV_HAVE_LMDB
    e.push_back(Built("lmdb", NewLmdbEngine));
#else
    e.push_back(Missing("lmdb", "not built: install liblmdb-dev and reconfigure"));
#endif
#ifdef KV_HAVE_SQLITE
    e.push_back(Built("sqlite", NewSqliteEngine));
#else
    e.push_back(Missing("sqlite", "not built: install libsqlite3-dev and reconfigure"));
#endif
    return e;
  }();
  return engines;
}

}  // namespace kv::bench
