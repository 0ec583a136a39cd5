// The LMDB adapter (Debian's liblmdb-dev 0.9.24), configured as ../shared/WORKLOADS.md fixes it:
// a 16 GiB map, MDB_NOTLS, MDB_NOSYNC unless EngineOptions::sync (so without sync a commit is
// not durable, as intended: no workload but fillsync asks for durability), one write transaction
// per Put and one read transaction per Get and per Scan. Keys are limited to 511 bytes, LMDB's
// compiled-in maximum, and must not be empty.
//
// Thread safety: one thread drives an engine object, as kvbench does.
#include <lmdb.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/check.h"
#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

constexpr std::size_t kMapSize = std::size_t{16} << 30;

Status ToStatus(int rc, std::string_view op) {
  std::string message = "lmdb " + std::string(op) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::Corruption(std::move(message));
    case MDB_BAD_VALSIZE:
    case EINVAL:
      return Status::InvalidArgument(std::move(message));
    case MDB_MAP_FULL:
    case ENOSPC:
      return Status::NoSpace(std::move(message));
    default:
      return Status::IOError(std::move(message));
  }
}

// LMDB's MDB_val is non-const; LMDB does not write through it on the way in.
MDB_val ToVal(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view ToView(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Aborts a transaction that was neither committed nor aborted, on every path out of a scope.
struct TxnDeleter {
  void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
using TxnPtr = std::unique_ptr<MDB_txn, TxnDeleter>;
struct EnvDeleter {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using EnvPtr = std::unique_ptr<MDB_env, EnvDeleter>;
struct CursorDeleter {
  void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};
using CursorPtr = std::unique_ptr<MDB_cursor, CursorDeleter>;

class LmdbEngine final : public Engine {
 public:
  std::string name() const override { return "lmdb"; }
  std::string settings() const override {
    return "16 GiB map, MDB_NOTLS, MDB_NOSYNC unless the workload syncs, one write transaction "
           "per put, one read transaction per get/scan";
  }

  Status Open(const EngineOptions& options) override {
    KV_CHECK(env_ == nullptr, "lmdb: Open called twice");
    MDB_env* raw_env = nullptr;
    int rc = mdb_env_create(&raw_env);
    if (rc != 0) return ToStatus(rc, "create environment");
    EnvPtr env(raw_env);  // Closed on every early return: LMDB requires it even after a failure.
    rc = mdb_env_set_mapsize(env.get(), kMapSize);
    if (rc != 0) return ToStatus(rc, "set map size");
    const unsigned int flags = MDB_NOTLS | (options.sync ? 0u : unsigned{MDB_NOSYNC});
    rc = mdb_env_open(env.get(), options.dir.c_str(), flags, 0644);
    if (rc != 0) return ToStatus(rc, "open " + options.dir);
    MDB_txn* raw_txn = nullptr;
    rc = mdb_txn_begin(env.get(), nullptr, 0, &raw_txn);
    if (rc != 0) return ToStatus(rc, "open: begin transaction");
    TxnPtr txn(raw_txn);
    rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi_);
    if (rc != 0) return ToStatus(rc, "open database");
    rc = mdb_txn_commit(txn.release());
    if (rc != 0) return ToStatus(rc, "open: commit");
    env_ = std::move(env);
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    KV_CHECK(env_ != nullptr, "lmdb: Put on a store not open");
    MDB_txn* raw = nullptr;
    int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw);
    if (rc != 0) return ToStatus(rc, "put: begin transaction");
    TxnPtr txn(raw);
    MDB_val k = ToVal(key);
    MDB_val v = ToVal(value);
    rc = mdb_put(txn.get(), dbi_, &k, &v, 0);
    if (rc != 0) return ToStatus(rc, "put");
    rc = mdb_txn_commit(txn.release());  // Frees the transaction, committed or not.
    return rc == 0 ? Status::Ok() : ToStatus(rc, "put: commit");
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    KV_CHECK(env_ != nullptr, "lmdb: Get on a store not open");
    *found = false;
    MDB_txn* raw = nullptr;
    int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw);
    if (rc != 0) return ToStatus(rc, "get: begin transaction");
    TxnPtr txn(raw);
    MDB_val k = ToVal(key);
    MDB_val v;
    rc = mdb_get(txn.get(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return ToStatus(rc, "get");
    // v points into the map, valid only while the transaction lives: copy before it ends.
    value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    *found = true;
    return Status::Ok();
  }

  bool SupportsScan() const override { return true; }

  Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) override {
    KV_CHECK(env_ != nullptr, "lmdb: Scan on a store not open");
    if (count == 0) return std::size_t{0};
    MDB_txn* raw_txn = nullptr;
    int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw_txn);
    if (rc != 0) return ToStatus(rc, "scan: begin transaction");
    TxnPtr txn(raw_txn);
    MDB_cursor* raw_cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), dbi_, &raw_cursor);
    if (rc != 0) return ToStatus(rc, "scan: open cursor");
    CursorPtr cursor(raw_cursor);  // Declared after txn: closed before the transaction ends.
    MDB_val k = ToVal(start);
    MDB_val v;
    // LMDB has no empty key, and MDB_SET_RANGE rejects one: an empty start means the first key.
    rc = mdb_cursor_get(cursor.get(), &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
    std::size_t read = 0;
    while (rc == 0) {
      if (visit) visit(ToView(k), ToView(v));
      if (++read == count) return read;
      rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) return ToStatus(rc, "scan");
    return read;
  }

  // LMDB does all its work inside the calls: there is nothing in the background.
  Status WaitForIdle(std::chrono::milliseconds /*max*/) override { return Status::Ok(); }

  Status Close() override {
    // Closing the environment closes the database handle too. With MDB_NOSYNC, closing does not
    // sync: the data reaches the disk whenever the OS writes it back, which no workload waits
    // for.
    env_.reset();
    return Status::Ok();
  }

 private:
  EnvPtr env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace

std::unique_ptr<Engine> NewLmdbEngine() { return std::make_unique<LmdbEngine>(); }

}  // namespace kv::bench
