// Every engine kvbench knows, against the Engine contract of phase2_storage/bench/engine.h: point
// reads and writes of arbitrary bytes, misses, overwrites, ordered scans (where supported) with
// the seek counted as the first entry read, WaitForIdle, Close, and durable puts. An engine not
// built into this binary (its Debian package missing) is skipped with the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/testing/seed.h"
#include "common/testing/status_matchers.h"
#include "phase2_storage/bench/engine.h"

namespace kv::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();

std::vector<std::string> EngineNames() {
  std::vector<std::string> names;
  for (const EngineInfo& info : KnownEngines()) names.push_back(info.name);
  return names;
}

const EngineInfo* FindEngine(std::string_view name) {
  for (const EngineInfo& info : KnownEngines()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// "key0000" ... "key0999": a fixed width, so that byte order is numeric order.
std::string Key(int i) {
  std::string digits = std::to_string(i);
  return "key" + std::string(4 - digits.size(), '0') + digits;
}

class EngineContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const EngineInfo* info = FindEngine(GetParam());
    ASSERT_NE(info, nullptr) << GetParam();
    if (!info->available) GTEST_SKIP() << info->name << ": " << info->why_not;
    ASSERT_TRUE(info->make) << info->name << " is available but has no factory";
    std::string templ = "/tmp/kvbench_engines_test_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    dir_ = templ;
    engine_ = info->make();
    ASSERT_NE(engine_, nullptr);
    EXPECT_EQ(engine_->name(), info->name);
    EXPECT_FALSE(engine_->settings().empty());
  }

  void TearDown() override {
    if (engine_ != nullptr && open_) EXPECT_OK(engine_->Close());
    engine_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      EXPECT_FALSE(ec) << "removing " << dir_ << ": " << ec.message();
    }
  }

  void Open(bool sync = false) {
    ASSERT_OK(engine_->Open(EngineOptions{.dir = dir_, .sync = sync}));
    open_ = true;
  }

  void Close() {
    open_ = false;
    ASSERT_OK(engine_->Close());
  }

  // Checks that `key` holds `expected`.
  void ExpectValue(std::string_view key, std::string_view expected) {
    std::string value = "stale";
    bool found = false;
    ASSERT_OK(engine_->Get(key, &value, &found));
    ASSERT_TRUE(found) << "key " << ::testing::PrintToString(std::string(key));
    EXPECT_EQ(value.size(), expected.size());
    EXPECT_TRUE(value == expected) << "key " << ::testing::PrintToString(std::string(key));
  }

  void ExpectMissing(std::string_view key) {
    std::string value;
    bool found = true;
    ASSERT_OK(engine_->Get(key, &value, &found));
    EXPECT_FALSE(found) << "key " << ::testing::PrintToString(std::string(key));
  }

  // Scans from `start` and returns the (key, value) pairs read; checks the returned count.
  std::vector<std::pair<std::string, std::string>> ScanAll(std::string_view start,
                                                           std::size_t count) {
    std::vector<std::pair<std::string, std::string>> entries;
    Result<std::size_t> n =
        engine_->Scan(start, count, [&](std::string_view key, std::string_view value) {
          entries.emplace_back(std::string(key), std::string(value));
        });
    EXPECT_OK(n);
    if (n.has_value()) {
      EXPECT_EQ(*n, entries.size());
    }
    return entries;
  }

  // Puts keys 0..999 in a random order; returns what the store should now hold.
  std::map<std::string, std::string> FillThousand() {
    kv::testing::TestRandom rng;
    std::vector<int> order(1000);
    for (int i = 0; i < 1000; ++i) order[i] = i;
    for (std::size_t i = order.size() - 1; i > 0; --i) {
      std::swap(order[i], order[rng.Uniform(i + 1)]);
    }
    std::map<std::string, std::string> expected;
    for (int i : order) {
      std::string value =
          "v" + std::to_string(i) + std::string(1, '\0') + rng.Bytes(rng.Range(0, 40));
      EXPECT_OK(engine_->Put(Key(i), value));
      expected[Key(i)] = std::move(value);
    }
    return expected;
  }

  std::string dir_;
  std::unique_ptr<Engine> engine_;
  bool open_ = false;
};

TEST_P(EngineContractTest, PutThenGet_ReturnsTheValue) {
  Open();
  ASSERT_OK(engine_->Put("alpha", "one"));
  ExpectValue("alpha", "one");
}

TEST_P(EngineContractTest, ArbitraryBytes_RoundTrip) {
  Open();
  kv::testing::TestRandom rng;
  const std::string binary_key("k\0\xff\x01\x80z", 6);
  const std::string zero_value("before\0after", 12);
  const std::string big_value = rng.Bytes(100 * 1024);
  ASSERT_OK(engine_->Put(binary_key, zero_value));
  ASSERT_OK(engine_->Put("big", big_value));
  ASSERT_OK(engine_->Put("empty", ""));
  ASSERT_OK(engine_->Put("null view", std::string_view()));  // Empty, with a null data().
  ExpectValue(binary_key, zero_value);
  ExpectValue("big", big_value);
  ExpectValue("empty", "");
  ExpectValue("null view", "");
  // The key cut at its zero byte is another key, absent.
  ExpectMissing(std::string("k", 1));
}

TEST_P(EngineContractTest, Get_Missing_IsOkAndNotFound) {
  Open();
  ExpectMissing("nothing");  // An empty store.
  ASSERT_OK(engine_->Put("present", "x"));
  ExpectMissing("absent");
  ExpectMissing("present.");  // Sorts right after a present key, as WORKLOADS.md's misses do.
  ExpectMissing("presen");
}

TEST_P(EngineContractTest, Put_Overwrite_ReturnsTheNewValue) {
  Open();
  ASSERT_OK(engine_->Put("k", "first"));
  ASSERT_OK(engine_->Put("k", "a longer second value"));
  ExpectValue("k", "a longer second value");
  ASSERT_OK(engine_->Put("k", "3"));
  ExpectValue("k", "3");
  ASSERT_OK(engine_->Put("k", ""));
  ExpectValue("k", "");
}

TEST_P(EngineContractTest, ThousandKeys_RandomOrder_AllReadable) {
  Open();
  const std::map<std::string, std::string> expected = FillThousand();
  for (const auto& [key, value] : expected) ExpectValue(key, value);
  ExpectMissing(Key(1000));
}

TEST_P(EngineContractTest, Scan_FromEmptyStart_ReadsEverythingInOrder) {
  Open();
  const std::map<std::string, std::string> expected = FillThousand();
  if (!engine_->SupportsScan()) GTEST_SKIP() << GetParam() << " has no ordered scan";
  const std::vector<std::pair<std::string, std::string>> want(expected.begin(), expected.end());
  const auto entries = ScanAll("", kAll);
  ASSERT_EQ(entries.size(), 1000u);
  EXPECT_TRUE(entries == want) << "the full scan differs from the keys put, in order";
  // An empty start given as a default string_view (null data()) means the same.
  EXPECT_TRUE(ScanAll(std::string_view(), kAll) == want);
}

TEST_P(EngineContractTest, Scan_CountsTheSeekAsTheFirstEntry) {
  Open();
  const std::map<std::string, std::string> expected = FillThousand();
  if (!engine_->SupportsScan()) GTEST_SKIP() << GetParam() << " has no ordered scan";
  const auto entries = ScanAll("key0500", 11);
  ASSERT_EQ(entries.size(), 11u);
  for (int i = 0; i < 11; ++i) {
    EXPECT_EQ(entries[i].first, Key(500 + i));
    EXPECT_TRUE(entries[i].second == expected.at(Key(500 + i))) << Key(500 + i);
  }
  EXPECT_EQ(ScanAll("key0500", 1).size(), 1u);
  EXPECT_TRUE(ScanAll("key0500", 0).empty());
}

TEST_P(EngineContractTest, Scan_StartsAtTheFirstKeyAtOrAfterStart) {
  Open();
  (void)FillThousand();
  if (!engine_->SupportsScan()) GTEST_SKIP() << GetParam() << " has no ordered scan";
  auto keys = [&](std::string_view start, std::size_t count) {
    std::vector<std::string> out;
    for (auto& [key, value] : ScanAll(start, count)) out.push_back(key);
    return out;
  };
  EXPECT_THAT(keys("key05005", 2), ElementsAre(Key(501), Key(502)));
  EXPECT_THAT(keys(std::string("key0500\0", 8), 1), ElementsAre(Key(501)));
  EXPECT_THAT(keys("a", 2), ElementsAre(Key(0), Key(1)));  // Before the first key.
  EXPECT_THAT(keys("key0997", 11), ElementsAre(Key(997), Key(998), Key(999)));  // Runs out.
  EXPECT_TRUE(keys("key1", kAll).empty());  // After the last key.
  EXPECT_TRUE(keys("key0999\x01", 5).empty());
}

TEST_P(EngineContractTest, Scan_WithoutVisitor_CountsEntries) {
  Open();
  (void)FillThousand();
  if (!engine_->SupportsScan()) GTEST_SKIP() << GetParam() << " has no ordered scan";
  const std::function<void(std::string_view, std::string_view)> none;
  ASSERT_OK_AND_ASSIGN(const std::size_t n, engine_->Scan("key0100", 11, none));
  EXPECT_EQ(n, 11u);
  ASSERT_OK_AND_ASSIGN(const std::size_t all, engine_->Scan("", kAll, none));
  EXPECT_EQ(all, 1000u);
}

TEST_P(EngineContractTest, Scan_OrdersKeysAsUnsignedBytes) {
  Open();
  if (!engine_->SupportsScan()) GTEST_SKIP() << GetParam() << " has no ordered scan";
  const std::vector<std::string> sorted = {
      std::string("\x01", 1),   std::string("ab", 2),   std::string("ab\0", 3),
      std::string("ab\x01", 3), std::string("b", 1),    std::string("\x7f", 1),
      std::string("\x80", 1),   std::string("\xff", 1), std::string("\xff\xff", 2)};
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) ASSERT_OK(engine_->Put(*it, *it));
  std::vector<std::string> keys;
  for (auto& [key, value] : ScanAll("", kAll)) {
    EXPECT_EQ(key, value);
    keys.push_back(key);
  }
  EXPECT_EQ(keys, sorted);
  EXPECT_THAT(ScanAll(std::string("ab\0", 3), 1), ElementsAre(Pair(sorted[2], sorted[2])));
  EXPECT_THAT(ScanAll("\x81", 5),
              ElementsAre(Pair(sorted[7], sorted[7]), Pair(sorted[8], sorted[8])));
}

TEST_P(EngineContractTest, WaitForIdle_AfterManyWrites_IsOkAndKeepsTheData) {
  Open();
  // 8 MiB of values: more than LevelDB's 4 MiB write buffer, so a flush (and, for some engines,
  // background work) is under way when WaitForIdle is called.
  kv::testing::TestRandom rng;
  const std::string value = rng.Bytes(64 * 1024);
  for (int i = 0; i < 128; ++i) ASSERT_OK(engine_->Put(Key(i), value));
  const auto before = std::chrono::steady_clock::now();
  ASSERT_OK(engine_->WaitForIdle(std::chrono::milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(10000));
  for (int i = 0; i < 128; i += 17) ExpectValue(Key(i), value);
  ASSERT_OK(engine_->WaitForIdle(std::chrono::milliseconds(0)));  // Bounded by a zero max too.
}

TEST_P(EngineContractTest, Close_IsOk) {
  Open();
  ASSERT_OK(engine_->Put("k", "v"));
  Close();
}

TEST_P(EngineContractTest, SyncPuts_Work) {
  Open(/*sync=*/true);
  for (int i = 0; i < 20; ++i) ASSERT_OK(engine_->Put(Key(i), "value " + std::to_string(i)));
  ASSERT_OK(engine_->Put(Key(3), "overwritten"));
  for (int i = 0; i < 20; ++i) {
    ExpectValue(Key(i), i == 3 ? "overwritten" : "value " + std::to_string(i));
  }
  ExpectMissing(Key(20));
  Close();
}

INSTANTIATE_TEST_SUITE_P(AllEngines, EngineContractTest, ::testing::ValuesIn(EngineNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;  // "lsm-tiered": '-' is not allowed.
                           std::ranges::replace(name, '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace kv::bench
