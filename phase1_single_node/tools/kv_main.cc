// kv: the phase 1 store on the command line.
//
//   kv --data-dir DIR [--sync always|periodic|none] [--repair] [--echo]
//
// On a terminal it is interactive, with line editing and history (libedit). Otherwise it reads
// commands from standard input and writes one response line per command, flushed at once, so a
// script can drive it. Commands and responses: docs/kv-cli.md.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include <editline/readline.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "common/posix_file_system.h"
#include "phase1_single_node/store.h"
#include "phase1_single_node/tools/shell.h"

int main(int argc, char** argv) {
  CLI::App app{"kv: a transactional key-value store (phase 1: single node)"};
  std::string data_dir;
  std::string sync = "always";
  bool repair = false;
  bool echo = false;
  app.add_option("--data-dir", data_dir, "directory of the store (created if missing)")->required();
  app.add_option("--sync", sync,
                 "when a commit is durable: always (fdatasync per group commit), "
                 "periodic (every 100 ms), none")
      ->check(CLI::IsMember({"always", "periodic", "none"}));
  app.add_flag("--repair", repair,
               "open a damaged log by truncating it at the damage (reports what is lost)");
  app.add_flag("--echo", echo, "print each command before its response (for scripted demos)");
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, kv::phase1::SyncPolicy> policies = {
      {"always", kv::phase1::SyncPolicy::kAlways},
      {"periodic", kv::phase1::SyncPolicy::kPeriodic},
      {"none", kv::phase1::SyncPolicy::kNone}};
  kv::phase1::StoreOptions options;
  options.sync = policies.at(sync);
  options.repair = repair;

  auto fs = kv::NewPosixFileSystem();
  auto store = kv::phase1::Store::Open(*fs, data_dir, options);
  if (!store) {
    std::fprintf(stderr, "kv: cannot open %s: %s\n", data_dir.c_str(),
                 store.error().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "kv: opened %s: %s\n", data_dir.c_str(),
               (*store)->recovery_report().Summary().c_str());

  kv::phase1::Shell shell(**store);
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::printf("Type HELP for commands; SESSION <name> switches between concurrent sessions.\n");
    std::string prompt;
    while (true) {
      prompt =
          fmt::format("kv[{}{}]> ", shell.current_session(), shell.in_transaction() ? " txn" : "");
      char* raw = ::readline(prompt.c_str());
      if (raw == nullptr) break;  // End of input (Ctrl-D).
      std::string line(raw);
      std::free(raw);
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      ::add_history(line.c_str());
      std::printf("%s\n", shell.Execute(line).c_str());
      std::fflush(stdout);
    }
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (line.starts_with('#')) continue;  // Comments in scripts.
      if (echo) std::printf("%s> %s\n", shell.current_session().c_str(), line.c_str());
      std::printf("%s\n", shell.Execute(line).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
