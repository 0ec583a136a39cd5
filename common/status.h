// Status and Result<T>: how every fallible operation in the project reports failure.
//
// A Status is either OK or a code plus a human-readable message. Result<T> is
// std::expected<T, Status>: a value on success, a non-OK Status on failure. Both are
// [[nodiscard]], so an ignored error is a compiler warning (an error under CI).
//
// Runtime failures (a full disk, a corrupt file, a conflicting transaction) are returned as
// Status. Broken invariants of the program itself are not: they abort via KV_CHECK (check.h).
//
// Thread safety: values; safe to copy and read from many threads.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace kv {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kNotFound,
  kCorruption,       // Stored bytes fail a check; the message names the file and the offset.
  kIOError,          // The operating system (or a fault-injecting test double) refused.
  kNoSpace,          // The device is full (ENOSPC); a kind of I/O error callers may treat apart.
  kInvalidArgument,  // The caller's input is malformed or out of bounds; nothing was changed.
  kConflict,         // A transaction lost a write-write (or, later, read-write) race.
  kBusy,             // A resource is held elsewhere (a lock file, a stalled writer).
  kTimeout,
  kNotLeader,  // Phase 3: this replica cannot serve the request; ask the leader.
  kAborted,    // The operation was abandoned (a transaction aborted, a store in error state).
  kNotSupported,
};

// The stable upper-case name of a code, e.g. "Corruption". Used in messages and by the kv CLI.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {StatusCode::kNoSpace, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg)}; }
  static Status Busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
  static Status NotLeader(std::string msg) { return {StatusCode::kNotLeader, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status NotSupported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }

  // Translates an errno value from a failed system call on `context` (usually a path).
  // ENOSPC and EDQUOT become kNoSpace, ENOENT kNotFound, everything else kIOError.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<CodeName>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>"; the code is kept.
  Status WithContext(std::string_view prefix) const;

  friend bool operator==(const Status& a, const Status& b) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a T, or the Status saying why there is none. A thin [[nodiscard]] subclass of
// std::expected so that all of std::expected's interface (has_value, value, error, and_then,
// value_or, ...) works, plus implicit construction from a non-OK Status:
//
//   Result<int> Parse(std::string_view s) {
//     if (s.empty()) return Status::InvalidArgument("empty");
//     return 42;
//   }
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Status> {
 public:
  using Base = std::expected<T, Status>;
  using Base::Base;

  // REQUIRES: !status.ok() — an OK status carries no value to return.
  Result(Status status) : Base(std::unexpect, std::move(status)) {}  // NOLINT: implicit on purpose

  // The error, or OK if there is a value. Lets callers treat a Result like a Status.
  Status status() const { return this->has_value() ? Status::Ok() : this->error(); }
};

}  // namespace kv

// Propagation helpers, in the style of Abseil's. `expr` is evaluated once.
#define KV_STATUS_CONCAT_INNER_(a, b) a##b
#define KV_STATUS_CONCAT_(a, b) KV_STATUS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not OK.
#define KV_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::kv::Status kv_status_tmp_ = (expr);            \
    if (!kv_status_tmp_.ok()) return kv_status_tmp_; \
  } while (false)

// `KV_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a Result, or returns its error.
#define KV_ASSIGN_OR_RETURN(lhs, expr) \
  KV_ASSIGN_OR_RETURN_IMPL_(KV_STATUS_CONCAT_(kv_result_, __LINE__), lhs, expr)
#define KV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)      \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
