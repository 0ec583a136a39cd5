// `kv --engine lsm` and `kv --engine btree` end to end: the kv binary (KV_BINARY, built from
// phase1_single_node/tools/kv_main.cc with phase 2 linked in) run on scripts, as docs/kv-cli.md
// describes it. One parameterised suite for both trees: the wiring is the same (a subdirectory
// of the store cleared at every open, the tree rebuilt from the store's log and checkpoint, the
// tree's state in STATS), so every case runs on each. What only one tree has (the B+tree's page
// size and the key limit that follows from it) is tested after the suite.
//
// Each case gets a fresh directory under the test temp directory and removes it afterwards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "phase2_storage/btree/page.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct KvRun {
  int status = -1;               // The exit status, or -1 if kv did not exit normally.
  std::vector<std::string> out;  // Standard output, one entry per line.
  std::string err;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

// The keys of the bulk scripts: fixed width, so byte order is numeric order.
std::string Key(int i) { return fmt::format("key{:05}", i); }
// 300 bytes: a few thousand of them spill out of the small caches the cases configure.
std::string Value(int i, char fill) { return fmt::format("{:05}", i) + std::string(295, fill); }

// How a case opens one tree.
struct TreeCase {
  std::string engine;  // --engine ...
  // Options that make the tree spill to its files with a little data (a 1 MiB memtable; 1 KiB
  // pages in a 1 MiB pool), so that the cases exercise flushes and evictions, not only memory.
  std::vector<std::string> small_options;
  std::string state_marker;  // A phrase of the tree's DescribeState, which STATS must show.
};

void PrintTo(const TreeCase& c, std::ostream* os) { *os << c.engine; }

class KvTreeEngineTest : public ::testing::TestWithParam<TreeCase> {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "kv_tree_engines_test_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    root_ = templ;
    data_dir_ = root_ / "db";
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
  }

  // Runs kv on `script` with `args` (after --data-dir) and returns what it printed.
  KvRun Run(const std::vector<std::string>& args, const std::string& script) {
    const auto in = root_ / "script.txt", out = root_ / "out.txt", err = root_ / "err.txt";
    std::ofstream(in, std::ios::binary) << script;
    std::string command =
        fmt::format("'{}' --data-dir '{}' --sync none", KV_BINARY, data_dir_.string());
    for (const std::string& a : args) command += " '" + a + "'";
    command += fmt::format(" <'{}' >'{}' 2>'{}'", in.string(), out.string(), err.string());
    const int raw = std::system(command.c_str());
    KvRun run;
    run.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    run.out = Lines(ReadFile(out));
    run.err = ReadFile(err);
    return run;
  }

  // kv on this case's tree, with its small options and `extra`.
  KvRun RunTree(const std::string& script, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--engine", GetParam().engine};
    args.insert(args.end(), GetParam().small_options.begin(), GetParam().small_options.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args, script);
  }

  std::filesystem::path tree_dir() const { return data_dir_ / GetParam().engine; }

  std::filesystem::path root_;
  std::filesystem::path data_dir_;
};

// Every command of the language answers on the tree exactly as on phase 1's hash table.
TEST_P(KvTreeEngineTest, Commands_AnswerAsOnTheMemEngine) {
  const std::string script =
      "PUT b 2\n"
      "PUT a 1\n"
      "PUT c hello world\n"
      "PUT empty \"\"\n"
      "GET a\n"
      "GET missing\n"
      "DEL a\n"
      "GET a\n"
      "SCAN \"\" \"\"\n"
      "SCAN b d 1\n"
      "BEGIN\n"
      "PUT d inside\n"
      "DEL b\n"
      "SCAN \"\" \"\"\n"
      "SESSION other\n"
      "SCAN \"\" \"\"\n"
      "BEGIN\n"
      "PUT d other\n"
      "SESSION main\n"
      "COMMIT\n"
      "SESSION other\n"
      "COMMIT\n"
      "SCAN \"\" \"\"\n"
      "SCAN z a\n";
  const KvRun tree = RunTree(script);
  ASSERT_EQ(tree.status, 0) << tree.err;
  std::filesystem::remove_all(data_dir_);
  const KvRun mem = Run({"--engine", "mem"}, script);
  ASSERT_EQ(mem.status, 0) << mem.err;
  EXPECT_EQ(tree.out, mem.out);
  // And the answers are the right ones, not merely the same.
  ASSERT_EQ(tree.out.size(), 24u);
  EXPECT_EQ(tree.out[8], "(3 entries) b 2 c \"hello world\" empty \"\"");
  EXPECT_EQ(tree.out[9], "(1 entry) b 2");
  EXPECT_EQ(tree.out[13], "(3 entries) c \"hello world\" d inside empty \"\"");
  EXPECT_THAT(tree.out[21], StartsWith("ERR Conflict "));
  EXPECT_EQ(tree.out[22], "(3 entries) c \"hello world\" d inside empty \"\"");
  EXPECT_THAT(tree.out[23], StartsWith("ERR InvalidArgument "));
}

TEST_P(KvTreeEngineTest, Stats_EndsWithTheTreesOwnState) {
  const KvRun run = RunTree("PUT a 1\nPUT b 2\nDEL a\nSTATS\n");
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(run.out.size(), 4u);
  const std::string& stats = run.out[3];
  EXPECT_THAT(stats, StartsWith("visible_ts=3 commits=3 "));
  // keys= and versions= are counted by walking the tree: b (a and its tombstone were pruned as
  // soon as no reader could see them).
  EXPECT_THAT(stats, HasSubstr(" keys=1 versions=1 bytes=2 "));
  EXPECT_THAT(stats, HasSubstr("; engine " + GetParam().engine + ": "));
  EXPECT_THAT(stats, HasSubstr(GetParam().state_marker));
}

// Thousands of versions, more than the tree's small cache holds, a checkpoint in the middle:
// the second run rebuilds the tree from the checkpoint and the log after it, and sees it all.
TEST_P(KvTreeEngineTest, Reopen_RebuildsTheTreeFromCheckpointAndLog) {
  constexpr int kKeys = 4000;
  std::string first;
  for (int i = 0; i < kKeys; ++i) {
    if (i % 100 == 0) first += "BEGIN\n";
    first += fmt::format("PUT {} {}\n", Key(i), Value(i, 'a'));
    if (i % 100 == 99) first += "COMMIT\n";
    if (i == kKeys / 2) first += "CHECKPOINT\n";
  }
  for (int i = 0; i < kKeys; i += 7) first += fmt::format("PUT {} {}\n", Key(i), Value(i, 'b'));
  for (int i = 0; i < kKeys; i += 10) first += fmt::format("DEL {}\n", Key(i));
  first += "SCAN \"\" \"\" 1\n";
  const KvRun one = RunTree(first);
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_EQ(one.out.back(), fmt::format("(1 entry) {} {}", Key(1), Value(1, 'a')));

  auto expected = [](int i) -> std::string {
    if (i % 10 == 0) return "(nil)";
    return Value(i, i % 7 == 0 ? 'b' : 'a');
  };
  std::string second;
  for (int i = 0; i < kKeys; i += 13) second += fmt::format("GET {}\n", Key(i));
  second += "SCAN \"\" \"\" 3\n";
  second += fmt::format("SCAN {} \"\"\n", Key(kKeys - 25));
  second += "STATS\n";
  const KvRun two = RunTree(second);
  ASSERT_EQ(two.status, 0) << two.err;
  // The same reads on phase 1's hash table, rebuilt from the same checkpoint and log (the script
  // only reads, so the store is the same for both runs): the same answers, and the same versions
  // in the engine.
  const KvRun mem = Run({"--engine", "mem"}, second);
  ASSERT_EQ(mem.status, 0) << mem.err;
  ASSERT_EQ(two.out.size(), mem.out.size());
  for (std::size_t i = 0; i + 1 < two.out.size(); ++i) EXPECT_EQ(two.out[i], mem.out[i]);
  // STATS up to wal_segment= (each open starts a new segment) is the same too.
  const std::string counters = mem.out.back().substr(0, mem.out.back().find(" wal_segment="));
  EXPECT_THAT(two.out.back(), StartsWith(counters + " wal_segment="));
  EXPECT_THAT(two.out.back(), HasSubstr("; engine " + GetParam().engine + ": "));
  EXPECT_THAT(two.err, HasSubstr("checkpoint checkpoint-"));
  std::size_t line = 0;
  for (int i = 0; i < kKeys; i += 13, ++line) {
    ASSERT_LT(line, two.out.size());
    EXPECT_EQ(two.out[line], expected(i)) << Key(i);
  }
  ASSERT_EQ(two.out.size(), line + 3);
  EXPECT_EQ(two.out[line], fmt::format("(3 entries) {} {} {} {} {} {}", Key(1), expected(1), Key(2),
                                       expected(2), Key(3), expected(3)));
  std::string tail;
  int tail_count = 0;
  for (int i = kKeys - 25; i < kKeys; ++i) {
    if (i % 10 == 0) continue;
    tail += fmt::format(" {} {}", Key(i), expected(i));
    ++tail_count;
  }
  EXPECT_EQ(two.out[line + 1], fmt::format("({} entries){}", tail_count, tail));
  EXPECT_TRUE(std::filesystem::is_directory(tree_dir()));
}

// Whatever the tree's subdirectory holds is deleted at open, before the tree is made anew.
TEST_P(KvTreeEngineTest, Reopen_ClearsTheTreesDirectory) {
  ASSERT_EQ(RunTree("PUT k v1\n").status, 0);
  const auto stale = tree_dir() / "stale-file";
  std::ofstream(stale) << "left by an earlier run";
  ASSERT_TRUE(std::filesystem::exists(stale));
  const KvRun run = RunTree("GET k\nPUT k v2\nGET k\n");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, (std::vector<std::string>{"v1", "OK", "v2"}));
  EXPECT_FALSE(std::filesystem::exists(stale));
  // A third open rebuilds from the log again: the tree's own files are not trusted either.
  const KvRun again = RunTree("GET k\n");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, std::vector<std::string>{"v2"});
}

// The mem engine and the tree share the store's log: either can open what the other wrote.
TEST_P(KvTreeEngineTest, SameStore_OpensOnMemAndOnTheTree) {
  ASSERT_EQ(Run({"--engine", "mem"}, "PUT a 1\nPUT b 2\n").status, 0);
  const KvRun tree = RunTree("DEL a\nPUT c 3\nSCAN \"\" \"\"\n");
  ASSERT_EQ(tree.status, 0) << tree.err;
  EXPECT_EQ(tree.out.back(), "(2 entries) b 2 c 3");
  const KvRun mem = Run({"--engine", "mem"}, "SCAN \"\" \"\"\n");
  ASSERT_EQ(mem.status, 0) << mem.err;
  EXPECT_EQ(mem.out, std::vector<std::string>{"(2 entries) b 2 c 3"});
}

TEST_P(KvTreeEngineTest, TreeOptions_WithoutTheirEngine_AreRefused) {
  std::vector<std::string> args = {"--engine", "mem"};
  args.insert(args.end(), GetParam().small_options.begin(), GetParam().small_options.end());
  const KvRun run = Run(args, "PUT k v\n");
  EXPECT_EQ(run.status, 2);
  EXPECT_THAT(run.err, HasSubstr("need --engine " + GetParam().engine));
  EXPECT_TRUE(run.out.empty());
  EXPECT_FALSE(std::filesystem::exists(data_dir_)) << "refused before the store was opened";
}

INSTANTIATE_TEST_SUITE_P(
    Trees, KvTreeEngineTest,
    ::testing::Values(
        TreeCase{"lsm", {"--write-buffer-mb", "1", "--block-cache-mb", "1"}, "memtable"},
        TreeCase{"btree", {"--page-size", "1024", "--buffer-pool-mb", "1"}, "buffer pool"}),
    [](const ::testing::TestParamInfo<TreeCase>& param) { return param.param.engine; });

// ---------------------------------------------------------------------------------------------
// What only the B+tree has.

class KvBTreeTest : public KvTreeEngineTest {};

TEST_F(KvBTreeTest, PageSizeNotAPowerOfTwo_IsRefused) {
  const KvRun run = Run({"--engine", "btree", "--page-size", "3000"}, "PUT k v\n");
  EXPECT_EQ(run.status, 2);
  EXPECT_THAT(run.err, HasSubstr("--engine btree: InvalidArgument"));
  EXPECT_THAT(run.err, HasSubstr("power of two"));
}

TEST_F(KvBTreeTest, PoolOfFewerThan64Pages_IsRefused) {
  const KvRun run =
      Run({"--engine", "btree", "--page-size", "32768", "--buffer-pool-mb", "1"}, "PUT k v\n");
  EXPECT_EQ(run.status, 2);
  EXPECT_THAT(run.err, HasSubstr("at least 64"));
}

// A key must fit a third of a page as a versioned key (its 0x00 bytes doubled, plus 10 bytes),
// so the store refuses longer keys up front, with the limit in the message, rather than let the
// tree fail after the store's checks.
TEST_F(KvBTreeTest, KeyLimit_FollowsThePageSize) {
  const std::size_t limit_4k = (kv::storage::btree::PageGeometry(4096).max_key - 10) / 2;
  ASSERT_LT(limit_4k, 1024u) << "4 KiB pages hold fewer than phase 1's 1 KiB keys";
  const std::string fits(limit_4k, 'k'), too_long(limit_4k + 1, 'k');
  const std::string script = fmt::format("PUT {} v\nGET {}\nPUT {} v\nGET {}\n", fits, fits,
                                         too_long, std::string(1024, 'k'));
  const KvRun small = Run({"--engine", "btree"}, script);
  ASSERT_EQ(small.status, 0) << small.err;
  ASSERT_EQ(small.out.size(), 4u);
  EXPECT_EQ(small.out[0], "OK");
  EXPECT_EQ(small.out[1], "v");
  EXPECT_THAT(small.out[2], StartsWith("ERR InvalidArgument "));
  EXPECT_THAT(small.out[2], HasSubstr(std::to_string(limit_4k)));
  EXPECT_THAT(small.out[3], StartsWith("ERR InvalidArgument "));

  // 8 KiB pages keep phase 1's limit of 1 KiB.
  ASSERT_GE((kv::storage::btree::PageGeometry(8192).max_key - 10) / 2, 1024u);
  const std::string longest(1024, 'k');
  const KvRun large = Run({"--engine", "btree", "--page-size", "8192"},
                          fmt::format("PUT {} v\nGET {}\nPUT {}k v\n", longest, longest, longest));
  ASSERT_EQ(large.status, 0) << large.err;
  ASSERT_EQ(large.out.size(), 3u);
  EXPECT_EQ(large.out[0], "OK");
  EXPECT_EQ(large.out[1], "v");
  EXPECT_THAT(large.out[2], StartsWith("ERR InvalidArgument "));
}

// One transaction is one write of the tree, and a write must fit in the buffer pool: a larger
// one is refused at COMMIT, writes nothing (not even to the store's log), and the store goes on.
TEST_F(KvBTreeTest, TransactionLargerThanOneWrite_IsRefusedAtCommitAndLeavesNothing) {
  const std::vector<std::string> small = {"--engine",         "btree", "--page-size", "1024",
                                          "--buffer-pool-mb", "1"};
  std::string script = "PUT before 1\nBEGIN\n";
  for (int i = 0; i < 3000; ++i) script += fmt::format("PUT {} {}\n", Key(i), Value(i, 'x'));
  script += fmt::format("COMMIT\nGET {}\nPUT after 2\nSCAN \"\" \"\"\n", Key(0));
  const KvRun run = Run(small, script);
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(run.out.size(), 3006u);
  EXPECT_THAT(run.out[3002], StartsWith("ERR InvalidArgument one write may change at most"));
  EXPECT_EQ(run.out[3003], "(nil)");
  EXPECT_EQ(run.out[3004], "OK");
  EXPECT_EQ(run.out[3005], "(2 entries) after 2 before 1");
  const KvRun again = Run(small, "SCAN \"\" \"\"\n");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, std::vector<std::string>{"(2 entries) after 2 before 1"});
}

// A tree made with one page size is not reopened with another: it is rebuilt, so a store may
// change its page size between runs.
TEST_F(KvBTreeTest, PageSize_MayChangeBetweenRuns) {
  ASSERT_EQ(Run({"--engine", "btree", "--page-size", "1024"}, "PUT k v\n").status, 0);
  const KvRun run = Run({"--engine", "btree", "--page-size", "16384"}, "GET k\n");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, std::vector<std::string>{"v"});
}

}  // namespace
