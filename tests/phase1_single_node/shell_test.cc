// The kv command language (docs/kv-cli.md), driven line by line through Shell.
#include "phase1_single_node/tools/shell.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/mem_file_system.h"
#include "common/testing/status_matchers.h"

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

TEST(ErrorLine, FlattensNewlines) {
  EXPECT_EQ(ErrorLine(Status::Corruption("a\nb")), "ERR Corruption a b");
}

}  // namespace
}  // namespace kv::phase1
