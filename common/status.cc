#include "common/status.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kv {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kNoSpace:
      return "NoSpace";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kConflict:
      return "Conflict";
    case StatusCode::kBusy:
      return "Busy";
    case StatusCode::kTimeout:
      return "Timeout";
    case StatusCode::kNotLeader:
      return "NotLeader";
    case StatusCode::kAborted:
      return "Aborted";
    case StatusCode::kNotSupported:
      return "NotSupported";
  }
  return "Unknown";
}

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg = fmt::format("{}: {}", context, std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return NoSpace(std::move(msg));
    case ENOENT:
      return NotFound(std::move(msg));
    default:
      return IOError(std::move(msg));
  }
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return fmt::format("{}: {}", StatusCodeName(code_), message_);
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  return {code_, fmt::format("{}: {}", prefix, message_)};
}

}  // namespace kv
