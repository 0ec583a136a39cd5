#include "phase1_single_node/mem_engine.h"

#include <algorithm>
#include <mutex>

#include "common/check.h"

namespace kv::phase1 {

std::array<std::unique_ptr<MemVersionedEngine::Stripe>, MemVersionedEngine::kStripes>
MemVersionedEngine::MakeStripes() {
  std::array<std::unique_ptr<Stripe>, kStripes> stripes;
  for (auto& s : stripes) s = std::make_unique<Stripe>();
  return stripes;
}

MemVersionedEngine::Stripe& MemVersionedEngine::StripeFor(std::string_view key) const {
  return *stripes_[Hash{}(key) % kStripes];
}

Result<std::optional<std::string>> MemVersionedEngine::Get(std::string_view key,
                                                           Timestamp read_ts) const {
  const Stripe& stripe = StripeFor(key);
  std::shared_lock lock(stripe.mu);
  auto it = stripe.map.find(key);
  if (it == stripe.map.end()) return std::optional<std::string>();
  const Chain& chain = it->second;
  // The first version newer than read_ts; the one before it is the answer.
  auto newer = std::ranges::upper_bound(chain, read_ts, {}, &Version::ts);
  if (newer == chain.begin()) return std::optional<std::string>();
  const Version& v = *std::prev(newer);
  if (v.tombstone) return std::optional<std::string>();
  return std::optional<std::string>(v.value);
}

Result<Timestamp> MemVersionedEngine::LatestVersion(std::string_view key) const {
  const Stripe& stripe = StripeFor(key);
  std::shared_lock lock(stripe.mu);
  auto it = stripe.map.find(key);
  return it == stripe.map.end() ? Timestamp{0} : it->second.back().ts;
}

Status MemVersionedEngine::Apply(std::span<Write> writes, Timestamp commit_ts) {
  for (Write& w : writes) {
    Stripe& stripe = StripeFor(w.key);
    std::unique_lock lock(stripe.mu);
    Chain& chain = stripe.map.try_emplace(w.key).first->second;  // One lookup; copies the key
                                                                 // only when it is new.
    // Invariant: versions are applied in timestamp order.
    KV_CHECK(chain.empty() || chain.back().ts < commit_ts, "versions applied out of order");
    chain.push_back(Version{commit_ts, !w.value.has_value(), std::move(w.value).value_or("")});
  }
  return Status::Ok();
}

bool MemVersionedEngine::PruneChain(Chain& chain, Timestamp watermark) {
  // Keep the newest version at or below the watermark (readers at the watermark see it) and
  // everything newer; drop everything older.
  auto newer = std::ranges::upper_bound(chain, watermark, {}, &Version::ts);
  if (newer == chain.begin()) return false;
  auto keep_from = std::prev(newer);
  if (keep_from->tombstone && newer == chain.end()) {
    // Only a tombstone remains visible, and nothing newer: every reader sees "absent".
    chain.clear();
    return true;
  }
  if (keep_from->tombstone) keep_from = newer;  // An older tombstone hides nothing anyone needs.
  chain.erase(chain.begin(), keep_from);
  if (chain.capacity() > 2 * chain.size() + 4) chain.shrink_to_fit();
  return chain.empty();
}

void MemVersionedEngine::Prune(std::string_view key, Timestamp watermark) {
  Stripe& stripe = StripeFor(key);
  std::unique_lock lock(stripe.mu);
  auto it = stripe.map.find(key);
  if (it != stripe.map.end() && PruneChain(it->second, watermark)) stripe.map.erase(it);
}

void MemVersionedEngine::PruneAll(Timestamp watermark) {
  for (auto& stripe : stripes_) {
    std::unique_lock lock(stripe->mu);
    for (auto it = stripe->map.begin(); it != stripe->map.end();) {
      it = PruneChain(it->second, watermark) ? stripe->map.erase(it) : std::next(it);
    }
  }
}

Status MemVersionedEngine::ForEachVisible(
    Timestamp read_ts, const std::function<Status(std::string_view, std::string_view)>& fn) const {
  // Copy one stripe at a time out from under its lock, so that `fn` (a checkpoint writing to
  // disk) never holds up the writers of that stripe.
  std::vector<std::pair<std::string, std::string>> visible;
  for (const auto& stripe : stripes_) {
    visible.clear();
    {
      std::shared_lock lock(stripe->mu);
      for (const auto& [key, chain] : stripe->map) {
        auto newer = std::ranges::upper_bound(chain, read_ts, {}, &Version::ts);
        if (newer == chain.begin()) continue;
        const Version& v = *std::prev(newer);
        if (!v.tombstone) visible.emplace_back(key, v.value);
      }
    }
    for (const auto& [key, value] : visible) KV_RETURN_IF_ERROR(fn(key, value));
  }
  return Status::Ok();
}

Status MemVersionedEngine::Scan(
    std::string_view start, std::string_view end, Timestamp read_ts, std::size_t limit,
    const std::function<Status(std::string_view, std::string_view)>& fn) const {
  // A hash table knows no order, so a scan is O(n) in the keys of the whole table (plus sorting
  // the ones in range), however narrow the range or small the limit. That is acceptable here:
  // phase 1's engine holds everything in memory and exists to make the transaction layer
  // testable; the ordered engines of phase 2 answer the same call with one seek and a walk of
  // the range. Like ForEachVisible, it copies the pairs out from under each stripe's lock, so
  // `fn` runs with no lock held.
  auto in_range = [&](std::string_view key) { return key >= start && (end.empty() || key < end); };
  std::vector<std::pair<std::string, std::string>> visible;
  for (const auto& stripe : stripes_) {
    std::shared_lock lock(stripe->mu);
    for (const auto& [key, chain] : stripe->map) {
      if (!in_range(key)) continue;
      auto newer = std::ranges::upper_bound(chain, read_ts, {}, &Version::ts);
      if (newer == chain.begin()) continue;
      const Version& v = *std::prev(newer);
      if (!v.tombstone) visible.emplace_back(key, v.value);
    }
  }
  // Only the first `limit` need sorting: partition them off first, then sort just those.
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (limit != 0 && limit < visible.size()) {
    std::ranges::nth_element(visible, visible.begin() + static_cast<std::ptrdiff_t>(limit), by_key);
    visible.resize(limit);
  }
  std::ranges::sort(visible, by_key);
  for (const auto& [key, value] : visible) KV_RETURN_IF_ERROR(fn(key, value));
  return Status::Ok();
}

EngineStats MemVersionedEngine::stats() const {
  EngineStats s;
  for (const auto& stripe : stripes_) {
    std::shared_lock lock(stripe->mu);
    s.keys += stripe->map.size();
    for (const auto& [key, chain] : stripe->map) {
      s.versions += chain.size();
      for (const auto& v : chain) s.live_bytes += key.size() + v.value.size();
    }
  }
  return s;
}

std::unique_ptr<VersionedEngine> NewMemVersionedEngine() {
  return std::make_unique<MemVersionedEngine>();
}

}  // namespace kv::phase1
