// kv: the phase 1 store on the command line.
//
//   kv --data-dir DIR [--sync always|periodic|none] [--repair] [--echo]
//      [--engine mem|lsm|btree] [--write-buffer-mb N] [--block-cache-mb N] [--bloom-bits N]
//      [--compaction leveled|tiered] [--page-size B] [--buffer-pool-mb N]
//
// On a terminal it is interactive, with line editing and history (libedit). Otherwise it reads
// commands from standard input and writes one response line per command, flushed at once, so a
// script can drive it. Commands and responses: docs/kv-cli.md.
//
// Engines. `--engine mem` (the default) keeps the versions in phase 1's hash table, in memory.
// `--engine lsm` keeps them in phase 2's LSM tree under DIR/lsm, `--engine btree` in phase 2's
// B+tree under DIR/btree (both through OrderedVersionedEngine), so the data need not fit in
// memory. Phase 1 must build without phase 2, so this file cannot simply include it:
// phase2_storage/CMakeLists.txt links both trees into this target and defines KV_WITH_PHASE2
// when both phases are in the build. Without it `--engine lsm` and `--engine btree` are refused.
//
// A tree is not the source of truth; the store's own log and checkpoints are. Store::Open
// rebuilds its engine from them through a factory that must hand it a *fresh, empty* engine, so
// the factory below deletes whatever DIR/lsm (DIR/btree) holds from the last run before it opens
// the tree, and recovery then refills it. (The factory runs after Store::Open has taken DIR/LOCK,
// so no other kv is using the subdirectory meanwhile.) Known limitation: opening takes time
// proportional to the data, not to the log's tail, and rewrites every version into the tree.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
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

#ifdef KV_WITH_PHASE2
#include "phase2_storage/btree/btree_engine.h"
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

struct BTreeSettings {
  std::size_t page_size = 4096;
  std::size_t buffer_pool_mb = 8;
};

#ifdef KV_WITH_PHASE2
// The tree's keys are versioned keys: the user key with every 0x00 byte doubled, plus 10 bytes
// (versioned_key.h); its values carry a one-byte tag.
constexpr std::size_t VersionedKeyBytes(std::size_t user_key_bytes) {
  return 2 * user_key_bytes + 10;
}
constexpr std::size_t kValueTagBytes = 1;

// Removes every file of `dir` (the tree makes no subdirectories), creating it if missing. No
// directory sync: files that come back after a power cut are removed again at the next open.
kv::Status ClearDir(kv::FileSystem& fs, const std::string& dir) {
  KV_RETURN_IF_ERROR(fs.CreateDirs(dir));
  KV_ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  for (const auto& name : names) KV_RETURN_IF_ERROR(fs.RemoveFile(kv::JoinPath(dir, name)));
  return kv::Status::Ok();
}

using TreeOpener =
    std::function<kv::Result<std::unique_ptr<kv::storage::OrderedEngine>>(const std::string& dir)>;

// Fresh, empty trees in `dir`, for Store::Open: clears `dir`, then calls `open`. A factory cannot
// return an error, so it leaves it in `error` (which must outlive the factory), with `what` as
// context, and returns nullptr.
kv::phase1::EngineFactory TreeFactory(kv::FileSystem& fs, std::string dir, std::string what,
                                      TreeOpener open, kv::Status& error) {
  return [&fs, dir = std::move(dir), what = std::move(what), open = std::move(open),
          &error]() -> std::unique_ptr<kv::phase1::VersionedEngine> {
    auto engine = [&]() -> kv::Result<std::unique_ptr<kv::storage::OrderedEngine>> {
      KV_RETURN_IF_ERROR(ClearDir(fs, dir));
      return open(dir);
    }();
    if (!engine) {
      error = engine.error().WithContext(what);
      return nullptr;
    }
    return std::make_unique<kv::storage::OrderedVersionedEngine>(std::move(*engine));
  };
}

kv::phase1::EngineFactory LsmFactory(kv::FileSystem& fs, std::string dir,
                                     const kv::phase1::Limits& store_limits,
                                     const LsmSettings& settings, kv::Status& error) {
  kv::storage::lsm::LsmOptions options;
  // The tree's limits must leave room for the versioned keys and tagged values it stores.
  options.limits.max_key_bytes = VersionedKeyBytes(store_limits.max_key_bytes);
  options.limits.max_value_bytes = store_limits.max_value_bytes + kValueTagBytes;
  options.write_buffer_size = settings.write_buffer_mb << 20;
  options.block_cache_bytes = settings.block_cache_mb << 20;
  options.table.bloom_bits_per_key = settings.bloom_bits;
  options.compaction_style = settings.compaction == "tiered"
                                 ? kv::storage::lsm::LsmOptions::CompactionStyle::kSizeTiered
                                 : kv::storage::lsm::LsmOptions::CompactionStyle::kLeveled;
  return TreeFactory(
      fs, std::move(dir), "LSM tree",
      [&fs,
       options](const std::string& d) -> kv::Result<std::unique_ptr<kv::storage::OrderedEngine>> {
        KV_ASSIGN_OR_RETURN(auto engine, kv::storage::lsm::LsmEngine::Open(fs, d, options));
        return std::unique_ptr<kv::storage::OrderedEngine>(std::move(engine));
      },
      error);
}

// The B+tree's options for `settings`, with room for the store's limits; and the store's options
// adjusted to what such a tree can hold. Unlike the LSM tree, the B+tree cannot take every key
// and value phase 1 allows, nor any batch: a key must fit a third of a page, and one write
// (one Apply: a commit, or a chunk of the checkpoint at recovery) must fit in the buffer pool.
//  * The store's limits are narrowed, so that it refuses what its tree cannot hold rather than
//    fail in the tree after its own checks. The limits are asked of the tree itself, by opening
//    one with the same options on an in-memory file system (it costs one buffer pool's
//    allocation, once).
//  * Recovery's checkpoint chunks are kept to a sixteenth of the largest value the tree takes,
//    which is itself about half the pages one write may change: a chunk's entries then fill
//    about 3/16 of those pages even if its leaves end a sixth full (the least a split leaves),
//    plus at most half for the one entry that may pass the budget. Without it a checkpoint of a
//    few thousand entries may not fit in one write, and the store could not be reopened. (The
//    budget counts keys and values, not the ~20 bytes a versioned cell adds to each; the 4096
//    entries a chunk holds at most keep that overhead small.) A transaction too large for one
//    write is refused at COMMIT with kInvalidArgument, and so logs nothing.
// Returns kInvalidArgument for settings the tree refuses (a page size that is not a power of two
// from 1 KiB to 32 KiB, a pool of fewer than 64 pages).
kv::Result<kv::storage::btree::BTreeOptions> BTreeOptionsFor(
    const BTreeSettings& settings, kv::phase1::StoreOptions& store_options) {
  kv::phase1::Limits& store_limits = store_options.limits;
  kv::storage::btree::BTreeOptions options;
  options.page_size = settings.page_size;
  options.buffer_pool_bytes = settings.buffer_pool_mb << 20;
  options.limits.max_key_bytes = VersionedKeyBytes(store_limits.max_key_bytes);
  options.limits.max_value_bytes = store_limits.max_value_bytes + kValueTagBytes;
  KV_ASSIGN_OR_RETURN(const kv::phase1::Limits tree,
                      kv::storage::btree::BTreeEngine::LimitsFor(options));
  if (tree.max_key_bytes < VersionedKeyBytes(1) || tree.max_value_bytes < kValueTagBytes) {
    return kv::Status::InvalidArgument("the B+tree's limits leave no room for a versioned key");
  }
  store_limits.max_key_bytes =
      std::min(store_limits.max_key_bytes, (tree.max_key_bytes - VersionedKeyBytes(0)) / 2);
  store_limits.max_value_bytes =
      std::min(store_limits.max_value_bytes, tree.max_value_bytes - kValueTagBytes);
  options.limits.max_key_bytes = VersionedKeyBytes(store_limits.max_key_bytes);
  options.limits.max_value_bytes = store_limits.max_value_bytes + kValueTagBytes;
  store_options.recovery_chunk_bytes =
      std::min(store_options.recovery_chunk_bytes, tree.max_value_bytes / 16);
  return options;
}

kv::phase1::EngineFactory BTreeFactory(kv::FileSystem& fs, std::string dir,
                                       const kv::storage::btree::BTreeOptions& options,
                                       kv::Status& error) {
  return TreeFactory(
      fs, std::move(dir), "B+tree",
      [&fs,
       options](const std::string& d) -> kv::Result<std::unique_ptr<kv::storage::OrderedEngine>> {
        KV_ASSIGN_OR_RETURN(auto engine, kv::storage::btree::BTreeEngine::Open(fs, d, options));
        return std::unique_ptr<kv::storage::OrderedEngine>(std::move(engine));
      },
      error);
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
  BTreeSettings btree;
  app.add_option("--engine", engine,
                 "where the versions live: mem (phase 1's hash table), lsm (phase 2's LSM tree "
                 "in DIR/lsm) or btree (phase 2's B+tree in DIR/btree); a tree is rebuilt from "
                 "the log at every open")
      ->check(CLI::IsMember({"mem", "lsm", "btree"}));
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
  auto* btree_options = app.add_option_group("B+tree", "with --engine btree");
  btree_options
      ->add_option("--page-size", btree.page_size,
                   "page size in bytes, a power of two from 1024 to 32768 (default 4096)")
      ->check(CLI::Range(1024, 32768));
  btree_options
      ->add_option("--buffer-pool-mb", btree.buffer_pool_mb,
                   "buffer pool (default 8; at least 64 pages)")
      ->check(CLI::Range(1, 65536));
  CLI11_PARSE(app, argc, argv);
  if (engine != "lsm" && lsm_options->count_all() > 0) {
    std::fprintf(stderr,
                 "kv: --write-buffer-mb, --block-cache-mb, --bloom-bits and --compaction need "
                 "--engine lsm\n");
    return 2;
  }
  if (engine != "btree" && btree_options->count_all() > 0) {
    std::fprintf(stderr, "kv: --page-size and --buffer-pool-mb need --engine btree\n");
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
  if (engine != "mem") {
#ifdef KV_WITH_PHASE2
    if (engine == "lsm") {
      options.engine_factory =
          LsmFactory(*fs, kv::JoinPath(data_dir, "lsm"), options.limits, lsm, engine_error);
    } else {
      auto tree_options = BTreeOptionsFor(btree, options);
      if (!tree_options) {
        std::fprintf(stderr, "kv: --engine btree: %s\n", tree_options.error().ToString().c_str());
        return 2;
      }
      options.engine_factory =
          BTreeFactory(*fs, kv::JoinPath(data_dir, "btree"), *tree_options, engine_error);
    }
#else
    std::fprintf(stderr,
                 "kv: --engine %s: this kv was built without phase 2 (phase2_storage is not in "
                 "the build); use --engine mem\n",
                 engine.c_str());
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
