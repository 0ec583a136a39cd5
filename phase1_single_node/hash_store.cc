#include "phase1_single_node/hash_store.h"

#include <mutex>

#include <fmt/format.h>

namespace kv::phase1 {

Result<std::string> HashStore::Get(std::string_view key) const {
  KV_RETURN_IF_ERROR(ValidateKey(limits_, key));
  std::shared_lock lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return Status::NotFound(fmt::format("key '{}'", key));
  return it->second;
}

Status HashStore::Put(std::string_view key, std::string_view value) {
  KV_RETURN_IF_ERROR(ValidateKey(limits_, key));
  KV_RETURN_IF_ERROR(ValidateValue(limits_, value));
  std::unique_lock lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) {
    map_.emplace(std::string(key), std::string(value));
  } else {
    it->second.assign(value);
  }
  return Status::Ok();
}

Status HashStore::Delete(std::string_view key) {
  KV_RETURN_IF_ERROR(ValidateKey(limits_, key));
  std::unique_lock lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) map_.erase(it);
  return Status::Ok();
}

std::size_t HashStore::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

}  // namespace kv::phase1
