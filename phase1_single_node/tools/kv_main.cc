// kv: the phase 1 store on the command line.
//
//   kv --data-dir DIR [--sync always|periodic|none] [--repair] [--echo]
//      [--engine mem|lsm] [--write-buffer-mb N] [--block-cache-mb N] [--bloom-bits N]
//      [--compaction leveled|tiered]
//
// On a terminal it is interactive, with line editing and history (libedit). Otherwise it reads
// commands from standard input and writes one response line per command, flushed at once, so a
// script can drive it. Commands and responses: docs/kv-cli.md.
//
// Engines. `--engine mem` (the default) keeps the versions in phase 1's hash table, in memory.
// `--engine lsm` keeps them in phase 2's LSM tree (through OrderedVersionedEngine) under DIR/lsm,
// so the data need not fit in memory. Phase 1 must build without phase 2, so this file cannot
// simply include it: phase2_storage/CMakeLists.txt links the LSM tree into this target and
// defines KV_WITH_LSM when both are in the build. Without it `--engine lsm` is refused.
//
// The LSM tree is not the source of truth; the store's own log and checkpoints are. Store::Open
// rebuilds its engine from them through a factory that must hand it a *fresh, empty* engine, so
// the factory below deletes whatever DIR/lsm holds from the last run before it opens the tree,
// and recovery then refills it. (The factory runs after Store::Open has taken DIR/LOCK, so no
// other kv is using DIR/lsm meanwhile.) Known limitation: opening takes time proportional to the
// data, not to the log's tail, and rewrites every version into the tree.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <editline/readline.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "common/posix_file_system.h"
#include "phase1_single_node/store.h"
#include "phase1_single_node/tools/shell.h"

#ifdef KV_WITH_LSM
#include "phase2_storage/lsm/lsm_engine.h"
#include "phase2_storage/ordered_versioned_engine.h"
#endif

namespace {

struct LsmSettings {
  std::size_t write_buffer_mb = 4;
  std::size_t block_cache_mb = 8;
  int bloom_bits = 10;
  std::string compaction = "leveled";
};

#ifdef KV_WITH_LSM
// Removes every file of `dir` (the tree makes no subdirectories), creating it if missing. No
// directory sync: files that come back after a power cut are removed again at the next open.
kv::Status ClearDir(kv::FileSystem& fs, const std::string& dir) {
  KV_RETURN_IF_ERROR(fs.CreateDirs(dir));
  KV_ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  for (const auto& name : names) KV_RETURN_IF_ERROR(fs.RemoveFile(kv::JoinPath(dir, name)));
  return kv::Status::Ok();
}

// Fresh, empty LSM trees in `dir`, for Store::Open. A factory cannot return an error, so it
// leaves it in `error` (which must outlive the factory) and returns nullptr.
kv::phase1::EngineFactory LsmFactory(kv::FileSystem& fs, std::string dir,
                                     const kv::phase1::Limits& store_limits,
                                     const LsmSettings& settings, kv::Status& error) {
  kv::storage::lsm::LsmOptions options;
  // The tree's keys are versioned keys: the user key with every 0x00 byte doubled, plus 10 bytes
  // (versioned_key.h); its values carry a one-byte tag. Its limits must leave room for both.
  options.limits.max_key_bytes = 2 * store_limits.max_key_bytes + 10;
  options.limits.max_value_bytes = store_limits.max_value_bytes + 1;
  options.write_buffer_size = settings.write_buffer_mb << 20;
  options.block_cache_bytes = settings.block_cache_mb << 20;
  options.table.bloom_bits_per_key = settings.bloom_bits;
  options.compaction_style = settings.compaction == "tiered"
                                 ? kv::storage::lsm::LsmOptions::CompactionStyle::kSizeTiered
                                 : kv::storage::lsm::LsmOptions::CompactionStyle::kLeveled;
  return [&fs, dir = std::move(dir), options,
          &error]() -> std::unique_ptr<kv::phase1::VersionedEngine> {
    auto open = [&]() -> kv::Result<std::unique_ptr<kv::storage::lsm::LsmEngine>> {
      KV_RETURN_IF_ERROR(ClearDir(fs, dir));
      return kv::storage::lsm::LsmEngine::Open(fs, dir, options);
    };
    auto engine = open();
    if (!engine) {
      error = engine.error().WithContext("LSM tree");
      return nullptr;
    }
    return std::make_unique<kv::storage::OrderedVersionedEngine>(std::move(*engine));
  };
}
#endif

}  // namespace

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
  std::string engine = "mem";
  LsmSettings lsm;
  app.add_option("--engine", engine,
                 "where the versions live: mem (phase 1's hash table) or lsm (phase 2's LSM tree "
                 "in DIR/lsm, rebuilt from the log at every open)")
      ->check(CLI::IsMember({"mem", "lsm"}));
  auto* lsm_options = app.add_option_group("LSM tree", "with --engine lsm");
  lsm_options->add_option("--write-buffer-mb", lsm.write_buffer_mb, "memtable size (default 4)")
      ->check(CLI::Range(1, 1024));
  lsm_options
      ->add_option("--block-cache-mb", lsm.block_cache_mb, "block cache (default 8; 0: none)")
      ->check(CLI::Range(0, 65536));
  lsm_options
      ->add_option("--bloom-bits", lsm.bloom_bits,
                   "bloom filter bits per key (default 10; 0: no filter)")
      ->check(CLI::Range(0, 64));
  lsm_options
      ->add_option("--compaction", lsm.compaction,
                   "leveled (default: fewer tables per read) or tiered (size-tiered: less "
                   "rewriting)")
      ->check(CLI::IsMember({"leveled", "tiered"}));
  CLI11_PARSE(app, argc, argv);
  if (engine != "lsm" && lsm_options->count_all() > 0) {
    std::fprintf(stderr,
                 "kv: --write-buffer-mb, --block-cache-mb, --bloom-bits and --compaction need "
                 "--engine lsm\n");
    return 2;
  }

  const std::map<std::string, kv::phase1::SyncPolicy> policies = {
      {"always", kv::phase1::SyncPolicy::kAlways},
      {"periodic", kv::phase1::SyncPolicy::kPeriodic},
      {"none", kv::phase1::SyncPolicy::kNone}};
  kv::phase1::StoreOptions options;
  options.sync = policies.at(sync);
  options.repair = repair;

  auto fs = kv::NewPosixFileSystem();
  kv::Status engine_error;  // Why the engine factory could not build an engine, if it could not.
  if (engine == "lsm") {
#ifdef KV_WITH_LSM
    options.engine_factory =
        LsmFactory(*fs, kv::JoinPath(data_dir, "lsm"), options.limits, lsm, engine_error);
#else
    std::fprintf(stderr,
                 "kv: --engine lsm: this kv was built without phase 2 (phase2_storage is not in "
                 "the build); use --engine mem\n");
    return 2;
#endif
  }
  auto store = kv::phase1::Store::Open(*fs, data_dir, options);
  if (!store) {
    const kv::Status& why = engine_error.ok() ? store.error() : engine_error;
    std::fprintf(stderr, "kv: cannot open %s: %s\n", data_dir.c_str(), why.ToString().c_str());
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
