// Shell: the command language of the `kv` tool, separated from its terminal handling so that
// tests can drive it line by line. Grammar and responses: docs/kv-cli.md.
//
// Each Execute() takes one command line and returns exactly one response line (no newline):
//   OK | <value> | (nil) | ERR <Code> <message> | a STATS / HELP / SESSION line
// An unknown or malformed command is "ERR InvalidArgument ..." and changes nothing.
//
// Sessions: the shell holds several named sessions, each with at most one open transaction, and
// one current session ("main" at start). `SESSION name` switches (creating it if needed), so a
// learner can interleave two transactions and watch snapshot isolation at work. Outside BEGIN,
// GET/PUT/DEL run as transactions of their own.
//
// Thread safety: none; one shell per terminal.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

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
  std::string Stats() const;

  Store& store_;
  std::map<std::string, std::optional<Transaction>> sessions_;
  std::string current_ = "main";
};

// "ERR <Code> <message>" for a non-OK status; newlines in the message become spaces.
std::string ErrorLine(const Status& status);

}  // namespace kv::phase1
