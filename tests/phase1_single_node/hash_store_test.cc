// Milestone 1: HashStore's get/put/delete, its input limits, and its thread safety.
//
// The rules under test (limits.h, hash_store.h): keys are 1..max_key_bytes, values
// 0..max_value_bytes; a write that breaks a limit is kInvalidArgument and changes nothing; an
// empty value is a value, distinct from an absent key.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/hash_store.h"
#include "phase1_single_node/limits.h"

namespace kv::phase1 {
namespace {

constexpr std::size_t kDefaultMaxKey = 1024;
constexpr std::size_t kDefaultMaxValue = 1024 * 1024;

// Expects `store.Get(key)` to hold exactly `value`.
void ExpectValue(const HashStore& store, std::string_view key, std::string_view value) {
  Result<std::string> got = store.Get(key);
  ASSERT_TRUE(got.has_value()) << "Get('" << key << "') returned " << got.error().ToString();
  EXPECT_EQ(*got, value);
}

TEST(HashStore, Defaults_MatchTheMilestoneLimits) {
  Limits limits;
  EXPECT_EQ(limits.max_key_bytes, kDefaultMaxKey);
  EXPECT_EQ(limits.max_value_bytes, kDefaultMaxValue);
}

TEST(HashStore, PutThenGet_ReturnsTheValue) {
  HashStore store;
  ASSERT_OK(store.Put("apple", "red"));
  ASSERT_OK(store.Put("banana", "yellow"));
  ExpectValue(store, "apple", "red");
  ExpectValue(store, "banana", "yellow");
  EXPECT_EQ(store.size(), 2u);
}

TEST(HashStore, GetOfAbsentKey_IsNotFound) {
  HashStore store;
  EXPECT_STATUS(store.Get("nothing"), StatusCode::kNotFound);
  ASSERT_OK(store.Put("something", "x"));
  EXPECT_STATUS(store.Get("nothing"), StatusCode::kNotFound);
  EXPECT_STATUS(store.Get("somethin"), StatusCode::kNotFound);  // A prefix is another key.
}

TEST(HashStore, Overwrite_ReplacesTheValueWithoutAddingAKey) {
  HashStore store;
  ASSERT_OK(store.Put("k", "a fairly long first value"));
  ASSERT_OK(store.Put("k", "short"));
  ExpectValue(store, "k", "short");
  ASSERT_OK(store.Put("k", "a much, much longer third value than either before"));
  ExpectValue(store, "k", "a much, much longer third value than either before");
  EXPECT_EQ(store.size(), 1u);
}

TEST(HashStore, Delete_RemovesOnlyThatKey) {
  HashStore store;
  ASSERT_OK(store.Put("k1", "v1"));
  ASSERT_OK(store.Put("k2", "v2"));
  ASSERT_OK(store.Delete("k1"));
  EXPECT_STATUS(store.Get("k1"), StatusCode::kNotFound);
  ExpectValue(store, "k2", "v2");
  EXPECT_EQ(store.size(), 1u);
}

TEST(HashStore, DeleteOfAbsentKey_IsOkAndChangesNothing) {
  HashStore store;
  ASSERT_OK(store.Put("k", "v"));
  EXPECT_OK(store.Delete("absent"));
  EXPECT_OK(store.Delete("absent"));
  ExpectValue(store, "k", "v");
  EXPECT_EQ(store.size(), 1u);
}

TEST(HashStore, PutAfterDelete_StoresTheNewValue) {
  HashStore store;
  ASSERT_OK(store.Put("k", "old"));
  ASSERT_OK(store.Delete("k"));
  ASSERT_OK(store.Put("k", "new"));
  ExpectValue(store, "k", "new");
}

TEST(HashStore, KeysAreBytes_EmbeddedNulIsPartOfTheKey) {
  HashStore store;
  const std::string with_nul("a\0b", 3);
  ASSERT_OK(store.Put(with_nul, "nul"));
  ASSERT_OK(store.Put("a", "plain"));
  ExpectValue(store, with_nul, "nul");
  ExpectValue(store, "a", "plain");
  EXPECT_EQ(store.size(), 2u);
}

TEST(HashStore, EmptyValue_IsAValueDistinctFromAbsent) {
  HashStore store;
  ASSERT_OK(store.Put("empty", ""));
  ExpectValue(store, "empty", "");
  EXPECT_EQ(store.size(), 1u);
  EXPECT_STATUS(store.Get("absent"), StatusCode::kNotFound);
  // Overwriting a value with the empty value keeps the key present.
  ASSERT_OK(store.Put("k", "v"));
  ASSERT_OK(store.Put("k", ""));
  ExpectValue(store, "k", "");
  ASSERT_OK(store.Delete("empty"));
  EXPECT_STATUS(store.Get("empty"), StatusCode::kNotFound);
}

TEST(HashStore, EmptyKey_IsInvalidArgumentAndChangesNothing) {
  HashStore store;
  ASSERT_OK(store.Put("k", "v"));
  EXPECT_STATUS(store.Put("", "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Get(""), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Delete(""), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.size(), 1u);
  ExpectValue(store, "k", "v");
}

TEST(HashStore, KeyOf1025Bytes_IsInvalidArgumentAndChangesNothing) {
  HashStore store;
  const std::string at_limit(kDefaultMaxKey, 'k');
  const std::string too_long(kDefaultMaxKey + 1, 'k');
  ASSERT_OK(store.Put("other", "v"));
  EXPECT_STATUS(store.Put(too_long, "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Get(too_long), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Delete(too_long), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.size(), 1u);
  // Nothing was stored under a truncated key either.
  EXPECT_STATUS(store.Get(at_limit), StatusCode::kNotFound);
  ExpectValue(store, "other", "v");
}

TEST(HashStore, OversizedKeyDelete_DoesNotRemoveATruncatedKey) {
  HashStore store;
  const std::string at_limit(kDefaultMaxKey, 'k');
  ASSERT_OK(store.Put(at_limit, "kept"));
  EXPECT_STATUS(store.Delete(at_limit + "k"), StatusCode::kInvalidArgument);
  ExpectValue(store, at_limit, "kept");
}

TEST(HashStore, ValueOf1MiBPlus1_IsInvalidArgumentAndKeepsTheOldValue) {
  HashStore store;
  const std::string too_big(kDefaultMaxValue + 1, 'v');
  ASSERT_OK(store.Put("k", "old"));
  EXPECT_STATUS(store.Put("k", too_big), StatusCode::kInvalidArgument);
  ExpectValue(store, "k", "old");
  EXPECT_STATUS(store.Put("fresh", too_big), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Get("fresh"), StatusCode::kNotFound);
  EXPECT_EQ(store.size(), 1u);
}

TEST(HashStore, KeyAndValueExactlyAtTheLimits_AreAccepted) {
  HashStore store;
  const std::string key(kDefaultMaxKey, 'k');
  const std::string value(kDefaultMaxValue, 'v');
  ASSERT_OK(store.Put(key, value));
  ExpectValue(store, key, value);
  ASSERT_OK(store.Put("one-byte value", "x"));
  ASSERT_OK(store.Put("x", "one-byte key"));
  ExpectValue(store, "x", "one-byte key");
  ASSERT_OK(store.Delete(key));
  EXPECT_STATUS(store.Get(key), StatusCode::kNotFound);
}

TEST(HashStore, CustomLimits_AreEnforcedInsteadOfTheDefaults) {
  HashStore store(Limits{.max_key_bytes = 4, .max_value_bytes = 8});
  ASSERT_OK(store.Put("abcd", "12345678"));
  ExpectValue(store, "abcd", "12345678");
  EXPECT_STATUS(store.Put("abcde", "v"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Get("abcde"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Delete("abcde"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(store.Put("abcd", "123456789"), StatusCode::kInvalidArgument);
  ExpectValue(store, "abcd", "12345678");
  EXPECT_EQ(store.size(), 1u);
}

TEST(HashStore, CustomLimits_CanBeLargerThanTheDefaults) {
  HashStore store(Limits{.max_key_bytes = 2 * kDefaultMaxKey, .max_value_bytes = 16});
  const std::string long_key(kDefaultMaxKey + 1, 'k');
  ASSERT_OK(store.Put(long_key, "v"));
  ExpectValue(store, long_key, "v");
  EXPECT_STATUS(store.Put("k", std::string(17, 'v')), StatusCode::kInvalidArgument);
}

// Four writers on disjoint keys, each putting, overwriting and deleting its own keys, while a
// reader checks that every value it sees is one its writer actually wrote.
TEST(HashStore, ConcurrentWritersOnDisjointKeys_EveryWriteLands) {
  constexpr int kThreads = 4;
  constexpr int kKeysPerThread = 1000;
  HashStore store;
  auto key = [](int t, int i) { return "t" + std::to_string(t) + "/k" + std::to_string(i); };
  auto first = [](int i) { return "first-" + std::to_string(i); };
  auto second = [](int i) { return "second-" + std::to_string(i); };

  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};
  std::atomic<int> failed_writes{0};
  std::thread reader([&] {
    int i = 0;
    do {
      Result<std::string> got = store.Get(key(i % kThreads, i % kKeysPerThread));
      if (got.has_value()) {
        const int k = i % kKeysPerThread;
        if (*got != first(k) && *got != second(k)) ++bad_reads;
      } else if (got.error().code() != StatusCode::kNotFound) {
        ++bad_reads;
      }
      ++i;
    } while (!done.load());
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kKeysPerThread; ++i) {
        if (!store.Put(key(t, i), first(i)).ok()) ++failed_writes;
      }
      for (int i = 0; i < kKeysPerThread; i += 2) {
        if (!store.Put(key(t, i), second(i)).ok()) ++failed_writes;
      }
      for (int i = 0; i < kKeysPerThread; i += 5) {
        if (!store.Delete(key(t, i)).ok()) ++failed_writes;
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();

  EXPECT_EQ(failed_writes.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  std::size_t expected_size = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kKeysPerThread; ++i) {
      if (i % 5 == 0) {
        SCOPED_TRACE(key(t, i));
        EXPECT_STATUS(store.Get(key(t, i)), StatusCode::kNotFound);
        continue;
      }
      ++expected_size;
      ExpectValue(store, key(t, i), i % 2 == 0 ? second(i) : first(i));
    }
  }
  EXPECT_EQ(store.size(), expected_size);
}

// --- Property: HashStore behaves as a std::map, and rejected operations change nothing ---

enum class OpKind { kPut, kDelete, kGet };

struct Op {
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static constexpr const char* kNames[] = {"Put", "Delete", "Get"};
  os << kNames[static_cast<int>(op.kind)] << "('" << op.key << "'";
  if (op.kind == OpKind::kPut) os << ", '" << op.value << "'";
  return os << ")";
}

// Small limits, so that invalid keys and values are cheap to generate and sit right at the bound.
constexpr Limits kPropertyLimits{.max_key_bytes = 3, .max_value_bytes = 4};

rc::Gen<Op> GenOp() {
  // Mostly keys from a tiny set, so operations collide; sometimes the empty key or one byte over.
  auto key = rc::gen::weightedOneOf<std::string>({
      {12, rc::gen::element<std::string>("a", "b", "c", "ab", "abc")},
      {1, rc::gen::just(std::string())},
      {1, rc::gen::just(std::string("abcd"))},
  });
  // Values of 0..4 bytes are valid; 5 and 6 are one and two bytes over the limit.
  auto value = rc::gen::weightedOneOf<std::string>({
      {6, rc::gen::resize(4, rc::gen::container<std::string>(rc::gen::element('x', 'y', 'z')))},
      {1, rc::gen::element<std::string>("12345", "123456")},
  });
  return rc::gen::build<Op>(
      rc::gen::set(&Op::kind, rc::gen::element(OpKind::kPut, OpKind::kDelete, OpKind::kGet)),
      rc::gen::set(&Op::key, key), rc::gen::set(&Op::value, value));
}

bool ValidKey(const std::string& key) {
  return !key.empty() && key.size() <= kPropertyLimits.max_key_bytes;
}

RC_GTEST_PROP(HashStoreProperty, RandomOps_MatchAMapModel, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(GenOp());
  HashStore store(kPropertyLimits);
  std::map<std::string, std::string> model;
  for (const Op& op : ops) {
    const bool valid_key = ValidKey(op.key);
    switch (op.kind) {
      case OpKind::kPut: {
        const Status s = store.Put(op.key, op.value);
        if (valid_key && op.value.size() <= kPropertyLimits.max_value_bytes) {
          RC_ASSERT(s.ok());
          model[op.key] = op.value;
        } else {
          RC_ASSERT(s.code() == StatusCode::kInvalidArgument);
        }
        break;
      }
      case OpKind::kDelete: {
        const Status s = store.Delete(op.key);
        if (valid_key) {
          RC_ASSERT(s.ok());
          model.erase(op.key);
        } else {
          RC_ASSERT(s.code() == StatusCode::kInvalidArgument);
        }
        break;
      }
      case OpKind::kGet: {
        const Result<std::string> got = store.Get(op.key);
        if (!valid_key) {
          RC_ASSERT(got.status().code() == StatusCode::kInvalidArgument);
        } else if (auto it = model.find(op.key); it != model.end()) {
          RC_ASSERT(got.has_value());
          RC_ASSERT(*got == it->second);
        } else {
          RC_ASSERT(got.status().code() == StatusCode::kNotFound);
        }
        break;
      }
    }
    RC_ASSERT(store.size() == model.size());
  }
  // Every key the model holds is in the store with its value.
  for (const auto& [key, value] : model) {
    const Result<std::string> got = store.Get(key);
    RC_ASSERT(got.has_value());
    RC_ASSERT(*got == value);
  }
}

}  // namespace
}  // namespace kv::phase1
