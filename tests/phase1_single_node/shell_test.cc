// The kv command language (docs/kv-cli.md), driven line by line through Shell.
#include "phase1_single_node/tools/shell.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/mem_engine.h"

namespace kv::phase1 {
namespace {

class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(*fs_, "db"));
    shell_ = std::make_unique<Shell>(*store_);
  }
  void TearDown() override { shell_.reset(); }
  std::string Run(std::string_view line) { return shell_->Execute(line); }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<Store> store_;
  std::unique_ptr<Shell> shell_;
};

TEST_F(ShellTest, AutocommitPutGetDel) {
  EXPECT_EQ(Run("PUT k hello world"), "OK");
  EXPECT_EQ(Run("GET k"), "hello world");
  EXPECT_EQ(Run("get k"), "hello world") << "commands are case-insensitive";
  EXPECT_EQ(Run("DEL k"), "OK");
  EXPECT_EQ(Run("GET k"), "(nil)");
  EXPECT_EQ(Run("PUT e \"\""), "OK");
  EXPECT_EQ(Run("GET e"), "") << "an empty value is a value, not nil";
}

TEST_F(ShellTest, MalformedCommands_AreErrorsAndChangeNothing) {
  ASSERT_EQ(Run("PUT k v"), "OK");
  for (std::string_view bad :
       {"FOO", "PUT", "PUT k", "GET", "GET a b", "DEL", "BEGIN now", "COMMIT", "ABORT", "   "}) {
    std::string response = Run(bad);
    EXPECT_TRUE(response.starts_with("ERR InvalidArgument ")) << bad << " -> " << response;
  }
  EXPECT_EQ(Run("GET k"), "v");
  EXPECT_EQ(store_->stats().engine.keys, 1u);
}

TEST_F(ShellTest, OversizedKey_IsInvalidArgument) {
  std::string key(1025, 'k');
  EXPECT_TRUE(Run("PUT " + key + " v").starts_with("ERR InvalidArgument ")) << "key > 1 KiB";
  EXPECT_TRUE(Run("GET " + key).starts_with("ERR InvalidArgument "));
  EXPECT_EQ(store_->stats().engine.keys, 0u);
}

TEST_F(ShellTest, TransactionIsolatedUntilCommit) {
  EXPECT_TRUE(Run("BEGIN").starts_with("OK txn "));
  EXPECT_EQ(Run("PUT k inside"), "OK");
  EXPECT_EQ(Run("GET k"), "inside");
  EXPECT_TRUE(Run("BEGIN").starts_with("ERR InvalidArgument")) << "one transaction per session";
  EXPECT_TRUE(Run("SESSION other").starts_with("session other;"));
  EXPECT_EQ(Run("GET k"), "(nil)") << "uncommitted write invisible to another session";
  EXPECT_TRUE(Run("SESSION main").starts_with("session main;"));
  EXPECT_EQ(Run("COMMIT"), "OK");
  EXPECT_TRUE(Run("SESSION other").starts_with("session other;"));
  EXPECT_EQ(Run("GET k"), "inside");
}

TEST_F(ShellTest, Abort_DiscardsWrites) {
  ASSERT_TRUE(Run("BEGIN").starts_with("OK"));
  EXPECT_EQ(Run("PUT k v"), "OK");
  EXPECT_EQ(Run("ABORT"), "OK");
  EXPECT_EQ(Run("GET k"), "(nil)");
}

TEST_F(ShellTest, TwoSessions_WriteWriteConflict_SecondCommitterAborted) {
  ASSERT_EQ(Run("PUT x 1"), "OK");
  ASSERT_TRUE(Run("BEGIN").starts_with("OK"));
  ASSERT_EQ(Run("GET x"), "1");
  ASSERT_TRUE(Run("SESSION b").starts_with("session b"));
  ASSERT_TRUE(Run("BEGIN").starts_with("OK"));
  ASSERT_EQ(Run("PUT x 2"), "OK");
  ASSERT_EQ(Run("COMMIT"), "OK");
  ASSERT_TRUE(Run("SESSION main").starts_with("session main"));
  EXPECT_EQ(Run("GET x"), "1") << "snapshot predates b's commit";
  EXPECT_EQ(Run("PUT x 3"), "OK");
  std::string response = Run("COMMIT");
  EXPECT_TRUE(response.starts_with("ERR Conflict ")) << response;
  EXPECT_NE(response.find("'x'"), std::string::npos) << "names the key: " << response;
  EXPECT_EQ(Run("GET x"), "2");
  EXPECT_FALSE(shell_->in_transaction()) << "a failed commit ends the transaction";
}

TEST_F(ShellTest, StatsAndCheckpoint_OneLine) {
  ASSERT_EQ(Run("PUT k v"), "OK");
  EXPECT_EQ(Run("CHECKPOINT"), "OK");
  std::string stats = Run("STATS");
  EXPECT_EQ(stats.find('\n'), std::string::npos);
  EXPECT_NE(stats.find("checkpoints=1"), std::string::npos) << stats;
  EXPECT_NE(stats.find("keys=1"), std::string::npos) << stats;
  EXPECT_EQ(Run("HELP").find('\n'), std::string::npos);
}

TEST_F(ShellTest, Scan_OneLine_CountThenPairsInKeyOrder) {
  ASSERT_EQ(Run("PUT b 2"), "OK");
  ASSERT_EQ(Run("PUT a 1"), "OK");
  ASSERT_EQ(Run("PUT c 3"), "OK");
  EXPECT_EQ(Run("SCAN a c"), "(2 entries) a 1 b 2") << "end is exclusive";
  EXPECT_EQ(Run("scan b c"), "(1 entry) b 2");
  EXPECT_EQ(Run("SCAN x z"), "(0 entries)");
  EXPECT_EQ(Run("SCAN \"\" \"\""), "(3 entries) a 1 b 2 c 3") << "\"\" leaves a bound open";
  EXPECT_EQ(Run("SCAN b \"\""), "(2 entries) b 2 c 3");
  EXPECT_EQ(Run("SCAN \"\" \"\" 2"), "(2 entries) a 1 b 2");
  EXPECT_EQ(store_->stats().active_transactions, 0u)
      << "an autocommitted SCAN ends its transaction";
}

TEST_F(ShellTest, Scan_InTransaction_SeesOwnWritesNotOthers) {
  ASSERT_EQ(Run("PUT a 1"), "OK");
  ASSERT_EQ(Run("PUT b 2"), "OK");
  ASSERT_TRUE(Run("BEGIN").starts_with("OK txn "));
  EXPECT_EQ(Run("DEL a"), "OK");
  EXPECT_EQ(Run("PUT ab mine"), "OK");
  ASSERT_TRUE(Run("SESSION other").starts_with("session other;"));
  EXPECT_EQ(Run("PUT c 3"), "OK");
  ASSERT_TRUE(Run("SESSION main").starts_with("session main;"));
  EXPECT_EQ(Run("SCAN \"\" \"\""), "(2 entries) ab mine b 2")
      << "own delete hides a, own put shows ab, the later commit of c is not in the snapshot";
  EXPECT_TRUE(shell_->in_transaction());
  EXPECT_EQ(Run("COMMIT"), "OK");
}

TEST_F(ShellTest, Scan_QuotesWhatWouldBeAmbiguous) {
  ASSERT_EQ(Run("PUT k1 hello world"), "OK");
  ASSERT_EQ(Run("PUT k2 \"\""), "OK");
  ASSERT_EQ(Run("PUT k3 say \"hi\" \\ it's"), "OK");
  ASSERT_EQ(Run("PUT k4 a\tb"), "OK");
  EXPECT_EQ(Run("SCAN k1 k5"),
            "(4 entries) k1 \"hello world\" k2 \"\" k3 \"say \\\"hi\\\" \\\\ it's\" k4 \"a\\tb\"");
}

TEST(FormatScanToken, BareOrQuotedWithEscapes) {
  EXPECT_EQ(FormatScanToken("plain"), "plain");
  EXPECT_EQ(FormatScanToken("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 stays readable";
  EXPECT_EQ(FormatScanToken(""), "\"\"");
  EXPECT_EQ(FormatScanToken("it's"), "\"it's\"") << "a single quote would start a shell quote";
  EXPECT_EQ(FormatScanToken(std::string("a\0b\n\x7f", 5)), "\"a\\x00b\\n\\x7f\"");
}

TEST_F(ShellTest, Scan_MalformedArguments_AreErrorsAndChangeNothing) {
  ASSERT_EQ(Run("PUT a 1"), "OK");
  ASSERT_TRUE(Run("BEGIN").starts_with("OK txn "));
  for (std::string_view bad : {"SCAN", "SCAN a", "SCAN a b 0", "SCAN a b -1", "SCAN a b x",
                               "SCAN a b 2x", "SCAN a b 1 2", "SCAN b a"}) {
    std::string response = Run(bad);
    EXPECT_TRUE(response.starts_with("ERR InvalidArgument ")) << bad << " -> " << response;
  }
  EXPECT_TRUE(shell_->in_transaction()) << "a failed SCAN leaves the transaction open";
  EXPECT_EQ(Run("SCAN a b"), "(1 entry) a 1");
  EXPECT_NE(Run("HELP").find("SCAN start end [limit]"), std::string::npos);
}

// An engine with something to say about itself: STATS appends it.
class DescribedEngine final : public VersionedEngine {
 public:
  Result<std::optional<std::string>> Get(std::string_view key, Timestamp ts) const override {
    return engine_.Get(key, ts);
  }
  Result<Timestamp> LatestVersion(std::string_view key) const override {
    return engine_.LatestVersion(key);
  }
  Status Apply(std::span<Write> writes, Timestamp ts) override { return engine_.Apply(writes, ts); }
  void Prune(std::string_view key, Timestamp watermark) override { engine_.Prune(key, watermark); }
  void PruneAll(Timestamp watermark) override { engine_.PruneAll(watermark); }
  Status ForEachVisible(
      Timestamp ts,
      const std::function<Status(std::string_view, std::string_view)>& fn) const override {
    return engine_.ForEachVisible(ts, fn);
  }
  Status Scan(std::string_view start, std::string_view end, Timestamp ts, std::size_t limit,
              const std::function<Status(std::string_view, std::string_view)>& fn) const override {
    return engine_.Scan(start, end, ts, limit, fn);
  }
  EngineStats stats() const override { return engine_.stats(); }
  std::string Describe() const override { return "test: two\nlines"; }

 private:
  MemVersionedEngine engine_;
};

TEST(ShellStats, EngineDescription_AppendedOnTheSameLine_OnlyWhenTheEngineHasOne) {
  auto fs = NewMemFileSystem();
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "mem"));
    Shell shell(*store);
    EXPECT_EQ(shell.Execute("STATS").find("engine"), std::string::npos);
  }
  StoreOptions options;
  options.engine_factory = [] { return std::make_unique<DescribedEngine>(); };
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(*fs, "described", options));
  Shell shell(*store);
  const std::string stats = shell.Execute("STATS");
  EXPECT_TRUE(stats.ends_with(" error=none; engine test: two lines")) << stats;
}

TEST(ErrorLine, FlattensNewlines) {
  EXPECT_EQ(ErrorLine(Status::Corruption("a\nb")), "ERR Corruption a b");
}

}  // namespace
}  // namespace kv::phase1
