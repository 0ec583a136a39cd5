// The one interface kvbench drives every engine through: the course's own (phase 1's store, the
// LSM tree and the B+tree) and the production engines it is compared with
// (LevelDB, RocksDB, LMDB, SQLite, from Debian's packages).
//
// An adapter does the least that lets the engine run the workloads of ../shared/WORKLOADS.md
// with the settings that file fixes for it, and says those settings in settings(), which the
// report prints. It must not cache, batch or skip work the engine would otherwise do.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kv::bench {

struct EngineOptions {
  // A fresh, empty directory the engine owns for this store (created by the driver).
  std::string dir;
  // true: every Put is durable (fsync/fdatasync) before it returns — the fillsync workload.
  // false: no durability asked for (writes may sit in the OS or the engine's buffers).
  bool sync = false;
};

// Not thread-safe: the driver calls one engine from one thread. settings() may be called at any
// time; every other call comes after a successful Open() and before Close().
class Engine {
 public:
  virtual ~Engine() = default;

  // The name used on the command line and in reports: mem, leveldb, rocksdb, lmdb, sqlite, ...
  virtual std::string name() const = 0;
  // One line saying how the engine is configured, e.g. "defaults, compression off, 8 MiB cache".
  virtual std::string settings() const = 0;

  // Opens (creating) a store in options.dir. Called once per engine object.
  virtual Status Open(const EngineOptions& options) = 0;
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  // Looks `key` up: *found says whether it is there and *value receives its value if so (after
  // a miss *value is unspecified). Keys are 1 to 511 bytes (LMDB's limit), values any size.
  virtual Status Get(std::string_view key, std::string* value, bool* found) = 0;

  // Ordered scans. An engine without order (phase 1's hash table) returns false, and the driver
  // reports the scan workloads as "n/a" without calling Scan.
  virtual bool SupportsScan() const = 0;
  // Positions at the first key >= `start` (the first key of all if `start` is empty), then reads
  // entries in key order until `count` have been read or the store ends; each entry's key and
  // value are passed to `visit` (which may be empty; the views are valid only during the call).
  // Returns the number of entries read.
  // The seek counts as the first entry read: count = 11 is "a seek followed by 10 next calls".
  virtual Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) = 0;

  // Waits until background work (memtable flushes, compactions) is idle, or until `max` has
  // passed — then it returns OK too (WORKLOADS.md: "idle, or 2 s"). It never forces work: a
  // forced compaction would change the write amplification being measured. Engines without
  // background work return at once.
  virtual Status WaitForIdle(std::chrono::milliseconds max) = 0;
  // The engine's own account of its state (files per level, compactions...), one or a few
  // lines for a human; empty if it has none. Called only between workloads.
  virtual std::string DescribeState() { return {}; }
  // Units of storage (data blocks, pages) the engine has read from its files so far, if it
  // counts them (OrderedEngine::BlocksRead); the driver turns the growth over a read workload
  // into read amplification. The production engines do not say.
  virtual std::optional<std::uint64_t> BlocksRead() { return std::nullopt; }
  // Closes the store, releasing every resource. Called once, after which only the destructor.
  virtual Status Close() = 0;
};

// The engines kvbench knows, in report order, and whether each is built into this binary.
struct EngineInfo {
  std::string name;
  bool available = false;
  std::string why_not;  // When not available: what to install, e.g. "install librocksdb-dev".
  std::function<std::unique_ptr<Engine>()> make;
};
const std::vector<EngineInfo>& KnownEngines();

}  // namespace kv::bench
