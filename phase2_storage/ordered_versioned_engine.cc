#include "phase2_storage/ordered_versioned_engine.h"

#include <fmt/format.h>

#include "phase2_storage/versioned_key.h"

namespace kv::storage {
namespace {

constexpr char kValueTag = 'v';
constexpr char kTombstoneTag = 'd';

std::string VersionPrefix(std::string_view key) {
  std::string prefix;
  AppendVersionedKeyPrefix(prefix, key);
  return prefix;
}

// The entry's value, checked: a tag byte the adapter did not write is corruption.
Result<std::optional<std::string_view>> DecodeValue(std::string_view stored, std::string_view key) {
  if (!stored.empty() && stored[0] == kTombstoneTag && stored.size() == 1) return std::nullopt;
  if (!stored.empty() && stored[0] == kValueTag) return stored.substr(1);
  return Status::Corruption(fmt::format(
      "versioned entry of key '{}' has a malformed value of {} bytes", key, stored.size()));
}

// Walks every version of every key in order, calling `fn(user_key, ts, value_or_tombstone,
// engine_key)`; stops at the first error.
template <typename Fn>
Status ForEachVersion(const OrderedEngine& engine, Fn&& fn) {
  auto it = engine.NewIterator({});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KV_ASSIGN_OR_RETURN(DecodedVersionedKey k, DecodeVersionedKey(it->key()));
    KV_ASSIGN_OR_RETURN(auto value, DecodeValue(it->value(), k.user_key));
    KV_RETURN_IF_ERROR(fn(k.user_key, k.timestamp, value, it->key()));
  }
  return it->status();
}

}  // namespace

Result<std::optional<std::string>> OrderedVersionedEngine::Get(std::string_view key,
                                                               phase1::Timestamp read_ts) const {
  auto it = engine_->NewIterator({});
  it->Seek(VersionedKey(key, read_ts));
  if (!it->Valid()) {
    KV_RETURN_IF_ERROR(it->status());
    return std::nullopt;
  }
  if (!it->key().starts_with(VersionPrefix(key))) return std::nullopt;
  KV_ASSIGN_OR_RETURN(auto value, DecodeValue(it->value(), key));
  if (!value) return std::nullopt;
  return std::string(*value);
}

Result<phase1::Timestamp> OrderedVersionedEngine::LatestVersion(std::string_view key) const {
  const std::string prefix = VersionPrefix(key);
  auto it = engine_->NewIterator({});
  it->Seek(prefix);  // The newest version is the first entry with the prefix.
  if (!it->Valid()) {
    KV_RETURN_IF_ERROR(it->status());
    return 0;
  }
  if (!it->key().starts_with(prefix)) return 0;
  KV_ASSIGN_OR_RETURN(DecodedVersionedKey k, DecodeVersionedKey(it->key()));
  return k.timestamp;
}

Status OrderedVersionedEngine::Apply(std::span<phase1::Write> writes, phase1::Timestamp commit_ts) {
  WriteBatch batch;
  std::string value;
  for (phase1::Write& w : writes) {
    value.clear();
    if (w.value) {
      value.push_back(kValueTag);
      value.append(*w.value);
    } else {
      value.push_back(kTombstoneTag);
    }
    batch.Put(VersionedKey(w.key, commit_ts), value);
  }
  return engine_->Write({}, batch);
}

void OrderedVersionedEngine::Prune(std::string_view key, phase1::Timestamp watermark) {
  const std::string prefix = VersionPrefix(key);
  auto it = engine_->NewIterator({});
  WriteBatch batch;
  bool found_visible = false;  // Passed the newest version <= watermark.
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto k = DecodeVersionedKey(it->key());
    if (!k) return;  // Left for a reader to report; pruning only saves space.
    if (k->timestamp > watermark) continue;
    if (!found_visible) {
      found_visible = true;
      // The version a reader at the watermark sees stays, unless it is a tombstone: then no
      // reader at or after the watermark sees anything older either, and it can go too.
      if (it->value() != std::string_view(&kTombstoneTag, 1)) continue;
    }
    batch.Delete(it->key());
  }
  if (!batch.empty()) (void)engine_->Write({}, batch);
}

void OrderedVersionedEngine::PruneAll(phase1::Timestamp watermark) {
  std::string last_key;
  bool have_key = false;
  std::vector<std::string> keys;
  (void)ForEachVersion(*engine_, [&](std::string_view key, phase1::Timestamp,
                                     const std::optional<std::string_view>&, std::string_view) {
    if (!have_key || key != last_key) {
      keys.emplace_back(key);
      last_key.assign(key);
      have_key = true;
    }
    return Status::Ok();
  });
  for (const std::string& key : keys) Prune(key, watermark);
}

Status OrderedVersionedEngine::ForEachVisible(
    phase1::Timestamp read_ts,
    const std::function<Status(std::string_view key, std::string_view value)>& fn) const {
  std::string done_key;  // The key whose visible version has been decided.
  bool have_done = false;
  return ForEachVersion(
      *engine_,
      [&](std::string_view key, phase1::Timestamp ts, const std::optional<std::string_view>& value,
          std::string_view) -> Status {
        if (ts > read_ts) return Status::Ok();
        if (have_done && key == done_key) return Status::Ok();  // An older version.
        done_key.assign(key);
        have_done = true;
        return value ? fn(key, *value) : Status::Ok();
      });
}

Status OrderedVersionedEngine::Scan(
    std::string_view start, std::string_view end, phase1::Timestamp read_ts, std::size_t limit,
    const std::function<Status(std::string_view key, std::string_view value)>& fn) const {
  // The escaped encoding sorts versioned keys in user-key order, so the range is contiguous:
  // seek to the version of `start` a reader at read_ts would see (its newer versions sort before
  // it and are skipped), then walk. Within each user key the versions come newest first; the
  // first one at or before read_ts decides the key, and its older versions are skipped.
  // An empty `start` needs no special case: VersionedKey("", t) is 0x00 0x01 followed by the
  // timestamp, and every stored versioned key starts with a byte above 0x00 or with 0x00 0xff
  // (an escaped zero byte), so it sorts after it and the Seek lands on the first entry.
  // Versions newer than read_ts are walked over one at a time rather than skipped with a Seek:
  // there are as many as commits to that key since the snapshot, usually few, and a Seek costs
  // more than a Next (it repositions every level of an LSM tree).
  auto it = engine_->NewIterator({});
  std::string decided;  // The user key whose visible version has been found.
  bool have_decided = false;
  std::size_t emitted = 0;
  for (it->Seek(VersionedKey(start, read_ts)); it->Valid(); it->Next()) {
    KV_ASSIGN_OR_RETURN(DecodedVersionedKey k, DecodeVersionedKey(it->key()));
    if (!end.empty() && k.user_key >= end) return Status::Ok();
    if (k.timestamp > read_ts) continue;                  // Too new for this reader.
    if (have_decided && k.user_key == decided) continue;  // An older version.
    KV_ASSIGN_OR_RETURN(auto value, DecodeValue(it->value(), k.user_key));
    decided = std::move(k.user_key);
    have_decided = true;
    if (!value) continue;  // Deleted as of read_ts.
    KV_RETURN_IF_ERROR(fn(decided, *value));
    if (++emitted == limit) return Status::Ok();
  }
  return it->status();
}

std::string OrderedVersionedEngine::Describe() const {
  return fmt::format("{}: {}", engine_->name(), engine_->DescribeState());
}

phase1::EngineStats OrderedVersionedEngine::stats() const {
  phase1::EngineStats s;
  std::string last_key;
  bool have_key = false;
  (void)ForEachVersion(*engine_,
                       [&](std::string_view key, phase1::Timestamp,
                           const std::optional<std::string_view>& value, std::string_view) {
                         if (!have_key || key != last_key) {
                           ++s.keys;
                           last_key.assign(key);
                           have_key = true;
                         }
                         ++s.versions;
                         s.live_bytes += key.size() + (value ? value->size() : 0);
                         return Status::Ok();
                       });
  return s;
}

}  // namespace kv::storage
