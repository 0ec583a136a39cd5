// Versioned keys: how the phase 1 transaction layer stores its versions in an ordered engine.
//
// The transaction layer keeps, for every key, versions stamped with commit timestamps
// (phase1_single_node/versioned_engine.h). An ordered engine stores plain (key, value) pairs. The
// adapter puts one version in one engine entry whose key is
//
//   versioned_key := escaped(user_key) 0x00 0x01 inverted_ts:fixed64-big-endian
//   escaped       := the user key with every 0x00 byte written as 0x00 0xff
//   inverted_ts   := ~commit_ts (so a larger timestamp gives a smaller key)
//
// Sorted bytewise, versioned keys come in user-key order, and within one user key newest first,
// so "the newest version at or before t" is the first entry at or after (key, t).
//
// Why the escape: with plain concatenation (key + timestamp) the versions of "a" could be split
// by the entries of "ab" — "a" + 0x62... sorts after "ab" + 0x00... — and a seek for "a" would
// land on "ab". The 0x00 0x01 terminator sorts below every escaped byte that can follow a
// shorter key (any byte is >= 0x01 except 0x00, which is followed by 0xff), so all of a key's
// versions sort before any longer key that shares its prefix.
//
// Thread safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kv::storage {

struct DecodedVersionedKey {
  std::string user_key;
  std::uint64_t timestamp = 0;
};

// escaped(user_key) 0x00 0x01: every versioned key of `user_key`, and only those, starts with it.
void AppendVersionedKeyPrefix(std::string& dst, std::string_view user_key);
std::string VersionedKey(std::string_view user_key, std::uint64_t timestamp);
// kCorruption if `key` is not a versioned key (bad escape, no terminator, wrong length).
Result<DecodedVersionedKey> DecodeVersionedKey(std::string_view key);

}  // namespace kv::storage
