// Shell: the command language of the `kv` tool, separated from its terminal handling so that
// tests can drive it line by line. Grammar and responses: docs/kv-cli.md.
//
// Each Execute() takes one command line and returns exactly one response line (no newline):
//   OK | <value> | (nil) | ERR <Code> <message> | a SCAN / STATS / HELP / SESSION line
// SCAN's pairs share its one line, so keys and values that contain spaces, quotes or control
// characters are quoted there (FormatScanToken).
// An unknown or malformed command is "ERR InvalidArgument ..." and changes nothing.
//
// Sessions: the shell holds several named sessions, each with at most one open transaction, and
// one current session ("main" at start). `SESSION name` switches (creating it if needed), so a
// learner can interleave two transactions and watch snapshot isolation at work. Outside BEGIN,
// GET/PUT/DEL/SCAN run as transactions of their own.
//
// Thread safety: none; one shell per terminal.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phase1_single_node/store.h"

namespace kv::phase1 {

class Shell {
 public:
  // `store` must outlive the shell.
  explicit Shell(Store& store) : store_(store) { sessions_.try_emplace(current_); }

  std::string Execute(std::string_view line);

  const std::string& current_session() const { return current_; }
  // True if the current session has an open transaction.
  bool in_transaction() const;

 private:
  std::string RunGet(std::string_view key);
  std::string RunWrite(std::string_view key, std::optional<std::string_view> value);
  std::string RunScan(std::string_view start, std::string_view end, std::size_t limit);
  std::string Stats() const;

  Store& store_;
  std::map<std::string, std::optional<Transaction>> sessions_;
  std::string current_ = "main";
};

// "ERR <Code> <message>" for a non-OK status; newlines in the message become spaces.
std::string ErrorLine(const Status& status);

// A key or value as SCAN prints it: as it is if it is non-empty and holds no space, no quote
// (double or single), no backslash and no control character; otherwise in double quotes, with a
// double quote or backslash escaped by a backslash and control characters written \n, \r, \t or
// \xHH. Bytes >= 0x80 (UTF-8) are kept as they are. So "" is the empty value, as PUT spells it,
// and a POSIX-style splitter (Python's shlex.split) recovers every token without a control
// character.
std::string FormatScanToken(std::string_view s);
// SCAN's response: "(N entries)" ("(1 entry)"), then " key value" for each pair.
std::string FormatScanLine(const std::vector<KeyValue>& pairs);

}  // namespace kv::phase1
