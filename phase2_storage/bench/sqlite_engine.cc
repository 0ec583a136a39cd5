// The SQLite adapter (Debian's libsqlite3-dev 3.40), configured as ../shared/WORKLOADS.md fixes
// it: 4 KiB pages, WAL journal, synchronous=OFF (FULL when EngineOptions::sync), the table
// kv(key BLOB PRIMARY KEY, value BLOB), one autocommit upsert per Put, prepared statements
// reused. Keys and values are bound as BLOBs, which SQLite orders by memcmp and then length:
// the same order as LevelDB's bytewise comparator.
//
// Thread safety: one thread drives an engine object, as kvbench does.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/check.h"
#include "phase2_storage/bench/adapters.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

Status ToStatus(sqlite3* db, int rc, std::string_view op) {
  std::string message = "sqlite " + std::string(op) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {  // The primary result code, without the extended bits.
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(message));
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
      return Status::InvalidArgument(std::move(message));
    case SQLITE_FULL:
      return Status::NoSpace(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(std::move(message));
    default:
      return Status::IOError(std::move(message));
  }
}

// Binds `bytes` as a BLOB. SQLITE_STATIC: SQLite does not copy them, so they must outlive the
// statement's step (callers reset and clear the bindings before returning). A null pointer
// would bind SQL NULL, not an empty BLOB, so an empty view is given a valid pointer.
int BindBlob(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  return sqlite3_bind_blob64(stmt, index, data, bytes.size(), SQLITE_STATIC);
}

// Column `col` of the current row, as bytes (an empty BLOB comes back as a null pointer).
std::string_view ColumnBytes(sqlite3_stmt* stmt, int col) {
  const void* data = sqlite3_column_blob(stmt, col);
  const int size = sqlite3_column_bytes(stmt, col);  // After column_blob, as SQLite advises.
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

// sqlite3_close_v2: if statements are still open (an Open that failed half-way), the handle
// is closed when the last of them is finalized.
struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Resets a reused statement and drops its (borrowed) bindings on every path out of a call.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_;
};

class SqliteEngine final : public Engine {
 public:
  std::string name() const override { return "sqlite"; }
  std::string settings() const override {
    return "WAL journal, synchronous=OFF (FULL when the workload syncs), 4 KiB pages, "
           "kv(key BLOB PRIMARY KEY, value BLOB), upsert per put, autocommit";
  }

  Status Open(const EngineOptions& options) override {
    KV_CHECK(db_ == nullptr, "sqlite: Open called twice");
    const std::string path = options.dir + "/kv.sqlite";
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::unique_ptr<sqlite3, DbCloser> db(raw);  // Closed on failure too, as SQLite requires.
    if (rc != SQLITE_OK) return ToStatus(db.get(), rc, "open " + path);

    // The page size must be set before the first table exists, and before WAL mode is entered.
    KV_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA page_size=4096", "open: page size").status());
    KV_ASSIGN_OR_RETURN(const std::string mode,
                        Exec(db.get(), "PRAGMA journal_mode=WAL", "open: journal mode"));
    if (mode != "wal") {
      return Status::IOError("sqlite open: journal_mode=WAL refused (mode is '" + mode + "')");
    }
    const char* synchronous = options.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF";
    KV_RETURN_IF_ERROR(Exec(db.get(), synchronous, "open: synchronous").status());
    KV_RETURN_IF_ERROR(Exec(db.get(),
                            "CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, value BLOB)",
                            "open: create table")
                           .status());
    KV_ASSIGN_OR_RETURN(const std::string page_size,
                        Exec(db.get(), "PRAGMA page_size", "open: page size"));
    if (page_size != "4096") {
      return Status::IOError("sqlite open: page size is " + page_size + ", not 4096");
    }

    KV_ASSIGN_OR_RETURN(put_, Prepare(db.get(),
                                      "INSERT INTO kv(key, value) VALUES(?, ?) "
                                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    KV_ASSIGN_OR_RETURN(get_, Prepare(db.get(), "SELECT value FROM kv WHERE key = ?"));
    KV_ASSIGN_OR_RETURN(
        scan_, Prepare(db.get(), "SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?"));
    db_ = std::move(db);
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value) override {
    KV_CHECK(db_ != nullptr, "sqlite: Put on a store not open");
    StmtUse use(put_.get());
    int rc = BindBlob(put_.get(), 1, key);
    if (rc == SQLITE_OK) rc = BindBlob(put_.get(), 2, value);
    if (rc != SQLITE_OK) return ToStatus(db_.get(), rc, "put: bind");
    rc = sqlite3_step(put_.get());
    return rc == SQLITE_DONE ? Status::Ok() : ToStatus(db_.get(), rc, "put");
  }

  Status Get(std::string_view key, std::string* value, bool* found) override {
    KV_CHECK(db_ != nullptr, "sqlite: Get on a store not open");
    *found = false;
    StmtUse use(get_.get());
    int rc = BindBlob(get_.get(), 1, key);
    if (rc != SQLITE_OK) return ToStatus(db_.get(), rc, "get: bind");
    rc = sqlite3_step(get_.get());
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return ToStatus(db_.get(), rc, "get");
    value->assign(ColumnBytes(get_.get(), 0));
    *found = true;
    return Status::Ok();
  }

  bool SupportsScan() const override { return true; }

  // One SELECT per scan: the "seek" is the statement's first step, each further entry a step.
  Result<std::size_t> Scan(
      std::string_view start, std::size_t count,
      const std::function<void(std::string_view key, std::string_view value)>& visit) override {
    KV_CHECK(db_ != nullptr, "sqlite: Scan on a store not open");
    if (count == 0) return std::size_t{0};
    StmtUse use(scan_.get());
    // An empty start binds the empty BLOB, which every BLOB key is >= (not NULL, which none is).
    int rc = BindBlob(scan_.get(), 1, start);
    constexpr auto kMaxLimit = static_cast<std::size_t>(std::numeric_limits<sqlite3_int64>::max());
    if (rc == SQLITE_OK) {
      rc = sqlite3_bind_int64(scan_.get(), 2,
                              static_cast<sqlite3_int64>(count < kMaxLimit ? count : kMaxLimit));
    }
    if (rc != SQLITE_OK) return ToStatus(db_.get(), rc, "scan: bind");
    std::size_t read = 0;
    while ((rc = sqlite3_step(scan_.get())) == SQLITE_ROW) {
      if (visit) visit(ColumnBytes(scan_.get(), 0), ColumnBytes(scan_.get(), 1));
      ++read;
    }
    if (rc != SQLITE_DONE) return ToStatus(db_.get(), rc, "scan");
    return read;
  }

  // SQLite has no background work: WAL checkpoints run inside the commits that trigger them.
  Status WaitForIdle(std::chrono::milliseconds /*max*/) override { return Status::Ok(); }

  Status Close() override {
    if (db_ == nullptr) return Status::Ok();
    put_.reset();
    get_.reset();
    scan_.reset();
    const int rc = sqlite3_close(db_.get());
    if (rc != SQLITE_OK) return ToStatus(db_.get(), rc, "close");  // The destructor retries.
    (void)db_.release();
    return Status::Ok();
  }

 private:
  // Runs `sql` to completion. Returns the first column of its first row as text ("" if none).
  static Result<std::string> Exec(sqlite3* db, const char* sql, std::string_view op) {
    KV_ASSIGN_OR_RETURN(StmtPtr stmt, Prepare(db, sql));
    std::string first;
    bool first_row = true;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      if (first_row) {
        const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
        if (text != nullptr) first = reinterpret_cast<const char*>(text);
        first_row = false;
      }
    }
    if (rc != SQLITE_DONE) return ToStatus(db, rc, op);
    return first;
  }

  // Prepared for reuse (SQLITE_PREPARE_PERSISTENT): each statement runs once per operation.
  static Result<StmtPtr> Prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return ToStatus(db, rc, std::string("prepare \"") + sql + "\"");
    return stmt;
  }

  // Declared first so that it is destroyed last, after the statements it owns.
  std::unique_ptr<sqlite3, DbCloser> db_;
  StmtPtr put_;
  StmtPtr get_;
  StmtPtr scan_;
};

}  // namespace

std::unique_ptr<Engine> NewSqliteEngine() { return std::make_unique<SqliteEngine>(); }

}  // namespace kv::bench
