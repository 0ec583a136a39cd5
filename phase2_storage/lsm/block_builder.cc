#include "phase2_storage/lsm/block_builder.h"

#include <algorithm>

#include "common/check.h"
#include "common/encoding.h"

namespace kv::storage::lsm {

BlockBuilder::BlockBuilder(int restart_interval) : restart_interval_(restart_interval) {
  KV_CHECK(restart_interval >= 1, "restart interval must be at least 1");
  Reset();
}

void BlockBuilder::Reset() {
  buffer_.clear();
  restarts_.assign(1, 0);  // The first entry is always a restart point.
  since_restart_ = 0;
  entries_ = 0;
  last_key_.clear();
  finished_ = false;
}

std::size_t BlockBuilder::SizeEstimate() const {
  return buffer_.size() + restarts_.size() * sizeof(std::uint32_t) + sizeof(std::uint32_t);
}

void BlockBuilder::Add(std::string_view key, std::string_view value) {
  KV_CHECK(!finished_, "BlockBuilder::Add after Finish");
  std::size_t shared = 0;
  if (since_restart_ == restart_interval_) {
    restarts_.push_back(static_cast<std::uint32_t>(buffer_.size()));
    since_restart_ = 0;
  } else {
    const std::size_t limit = std::min(key.size(), last_key_.size());
    while (shared < limit && key[shared] == last_key_[shared]) ++shared;
  }
  const std::size_t unshared = key.size() - shared;
  AppendVarint32(buffer_, static_cast<std::uint32_t>(shared));
  AppendVarint32(buffer_, static_cast<std::uint32_t>(unshared));
  AppendVarint32(buffer_, static_cast<std::uint32_t>(value.size()));
  buffer_.append(key.substr(shared));
  buffer_.append(value);
  last_key_.resize(shared);
  last_key_.append(key.substr(shared));
  ++since_restart_;
  ++entries_;
}

std::string_view BlockBuilder::Finish() {
  if (!finished_) {
    for (std::uint32_t r : restarts_) AppendFixed32(buffer_, r);
    AppendFixed32(buffer_, static_cast<std::uint32_t>(restarts_.size()));
    finished_ = true;
  }
  return buffer_;
}

}  // namespace kv::storage::lsm
