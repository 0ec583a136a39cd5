#include "phase1_single_node/tools/shell.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace kv::phase1 {
namespace {

constexpr std::string_view kNil = "(nil)";

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits off the first whitespace-separated word of `s`.
std::string_view NextWord(std::string_view& s) {
  s = TrimLeft(s);
  std::size_t end = 0;
  while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end]))) ++end;
  std::string_view word = s.substr(0, end);
  s.remove_prefix(end);
  return word;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

std::string Usage(std::string_view message) {
  return ErrorLine(Status::InvalidArgument(std::string(message)));
}

// `""` as a SCAN bound: the open end (no key is empty).
std::string_view ScanBound(std::string_view word) {
  return word == "\"\"" ? std::string_view() : word;
}

}  // namespace

std::string ErrorLine(const Status& status) {
  std::string message = status.message();
  std::ranges::replace(message, '\n', ' ');
  std::ranges::replace(message, '\r', ' ');
  return fmt::format("ERR {} {}", StatusCodeName(status.code()), message);
}

std::string FormatScanToken(std::string_view s) {
  auto needs_escape = [](unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '"' || c == '\\';
  };
  const bool bare = !s.empty() && std::ranges::none_of(s, [&](unsigned char c) {
    return needs_escape(c) || c == ' ' || c == '\'';
  });
  if (bare) return std::string(s);
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (needs_escape(c)) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string FormatScanLine(const std::vector<KeyValue>& pairs) {
  std::string out = fmt::format("({} {})", pairs.size(), pairs.size() == 1 ? "entry" : "entries");
  for (const auto& [key, value] : pairs) {
    out += ' ';
    out += FormatScanToken(key);
    out += ' ';
    out += FormatScanToken(value);
  }
  return out;
}

bool Shell::in_transaction() const { return sessions_.at(current_).has_value(); }

std::string Shell::Execute(std::string_view line) {
  std::string_view rest = TrimRight(line);
  const std::string command = Upper(NextWord(rest));
  std::optional<Transaction>& txn = sessions_[current_];

  if (command.empty()) return Usage("empty command; try HELP");
  if (command == "HELP") {
    return "commands: BEGIN | GET key | PUT key value | DEL key | SCAN start end [limit] | "
           "COMMIT | ABORT | CHECKPOINT | STATS | SESSION [name] | HELP   (values run to the end "
           "of the line; PUT k \"\" stores an empty value; SCAN covers [start, end), \"\" "
           "leaves a bound open)";
  }
  if (command == "GET" || command == "DEL") {
    std::string_view key = NextWord(rest);
    if (key.empty() || !TrimLeft(rest).empty()) return Usage(command + " takes exactly one key");
    return command == "GET" ? RunGet(key) : RunWrite(key, std::nullopt);
  }
  if (command == "PUT") {
    std::string_view key = NextWord(rest);
    std::string_view value = TrimLeft(rest);
    if (key.empty() || value.empty()) return Usage("PUT takes a key and a value");
    if (value == "\"\"") value = {};
    return RunWrite(key, value);
  }
  if (command == "SCAN") {
    const std::string_view start = NextWord(rest);
    const std::string_view end = NextWord(rest);
    const std::string_view limit_word = NextWord(rest);
    if (end.empty() || !TrimLeft(rest).empty()) {
      return Usage("SCAN takes a start, an end and an optional limit (\"\" leaves a bound open)");
    }
    std::size_t limit = 0;  // None.
    if (!limit_word.empty()) {
      const char* const last = limit_word.data() + limit_word.size();
      auto [ptr, ec] = std::from_chars(limit_word.data(), last, limit);
      if (ec != std::errc() || ptr != last || limit == 0) {
        return Usage(fmt::format("SCAN's limit must be a positive integer, not '{}'", limit_word));
      }
    }
    return RunScan(ScanBound(start), ScanBound(end), limit);
  }
  if (!TrimLeft(rest).empty() && command != "SESSION") {
    return Usage(command + " takes no arguments");
  }
  if (command == "BEGIN") {
    if (txn) return Usage("a transaction is already open in this session; COMMIT or ABORT it");
    txn.emplace(store_.Begin());
    return fmt::format("OK txn {}", txn->id());
  }
  if (command == "COMMIT" || command == "ABORT") {
    if (!txn) return Usage("no open transaction in this session; BEGIN one");
    Transaction t = std::move(*txn);
    txn.reset();
    if (command == "ABORT") {
      t.Abort();
      return "OK";
    }
    Status s = t.Commit();
    return s.ok() ? "OK" : ErrorLine(s);
  }
  if (command == "CHECKPOINT") {
    Status s = store_.Checkpoint();
    return s.ok() ? "OK" : ErrorLine(s);
  }
  if (command == "STATS") return Stats();
  if (command == "SESSION") {
    std::string_view name = NextWord(rest);
    if (!TrimLeft(rest).empty()) return Usage("SESSION takes one name");
    if (!name.empty()) {
      current_ = std::string(name);
      sessions_.try_emplace(current_);
    }
    std::string list;
    for (const auto& [n, t] : sessions_) {
      list += fmt::format(" {}{}", n, t ? fmt::format("(txn {})", t->id()) : "");
    }
    return fmt::format("session {}; sessions:{}", current_, list);
  }
  return Usage(fmt::format("unknown command '{}'; try HELP", command));
}

std::string Shell::RunGet(std::string_view key) {
  std::optional<Transaction>& txn = sessions_[current_];
  if (txn) {
    auto r = txn->Get(key);
    if (!r) return ErrorLine(r.error());
    return r->has_value() ? **r : std::string(kNil);
  }
  Transaction t = store_.Begin();
  auto r = t.Get(key);
  if (!r) return ErrorLine(r.error());
  Status s = t.Commit();
  if (!s.ok()) return ErrorLine(s);
  return r->has_value() ? **r : std::string(kNil);
}

std::string Shell::RunScan(std::string_view start, std::string_view end, std::size_t limit) {
  std::optional<Transaction>& txn = sessions_[current_];
  if (txn) {
    auto r = txn->Scan(start, end, limit);
    return r ? FormatScanLine(*r) : ErrorLine(r.error());
  }
  Transaction t = store_.Begin();
  auto r = t.Scan(start, end, limit);
  if (!r) return ErrorLine(r.error());
  Status s = t.Commit();
  if (!s.ok()) return ErrorLine(s);
  return FormatScanLine(*r);
}

std::string Shell::RunWrite(std::string_view key, std::optional<std::string_view> value) {
  std::optional<Transaction>& txn = sessions_[current_];
  auto write = [&](Transaction& t) { return value ? t.Put(key, *value) : t.Delete(key); };
  if (txn) {
    Status s = write(*txn);
    return s.ok() ? "OK" : ErrorLine(s);
  }
  Transaction t = store_.Begin();
  Status s = write(t);
  if (!s.ok()) return ErrorLine(s);  // `t` aborts as it goes out of scope: nothing changed.
  s = t.Commit();
  return s.ok() ? "OK" : ErrorLine(s);
}

std::string Shell::Stats() const {
  StoreStats s = store_.stats();
  std::string line = fmt::format(
      "visible_ts={} commits={} conflicts={} aborts={} active_txns={} keys={} versions={} "
      "bytes={} wal_segment={} wal_syncs={} checkpoints={} error={}",
      s.visible_ts, s.commits, s.conflicts, s.aborts, s.active_transactions, s.engine.keys,
      s.engine.versions, s.engine.live_bytes, s.wal_segment, s.wal_syncs, s.checkpoints,
      s.error.ok() ? "none" : s.error.ToString());
  // The engine's own account (the LSM tree's levels and caches), after everything else so the
  // fields before it keep their places.
  if (std::string engine = store_.DescribeEngine(); !engine.empty()) {
    std::ranges::replace(engine, '\n', ' ');
    std::ranges::replace(engine, '\r', ' ');
    line += "; engine " + engine;
  }
  return line;
}

}  // namespace kv::phase1
