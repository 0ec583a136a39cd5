#include "phase2_storage/lsm/table_builder.h"

#include <fmt/format.h>

#include "common/check.h"
#include "phase2_storage/lsm/bloom.h"
#include "phase2_storage/lsm/internal_key.h"

namespace kv::storage::lsm {

TableBuilder::TableBuilder(const TableOptions& options, WritableFile& file, std::string path)
    : options_(options),
      file_(file),
      path_(std::move(path)),
      data_block_(options.restart_interval),
      // Index entries are binary-searched one by one: a restart at every entry.
      index_block_(1) {}

Status TableBuilder::Add(std::string_view internal_key, std::string_view value) {
  KV_CHECK(!finished_, "TableBuilder::Add after Finish");
  KV_CHECK(internal_key.size() >= kTrailerSize, "TableBuilder::Add of a malformed internal key");
  KV_RETURN_IF_ERROR(status_);
  if (entries_ == 0) {
    smallest_.assign(internal_key);
  } else {
    // Invariant: keys arrive in increasing internal-key order.
    KV_CHECK(CompareInternalKeys(largest(), internal_key) < 0,
             "TableBuilder::Add: keys out of order");
  }
  if (options_.bloom_bits_per_key > 0) {
    // Versions of one user key are adjacent; the filter needs each user key once.
    const std::string_view user_key = ExtractUserKey(internal_key);
    const std::size_t n = filter_key_ends_.size();
    const std::size_t last_begin = n < 2 ? 0 : filter_key_ends_[n - 2];
    const bool repeat = n > 0 && std::string_view(filter_keys_).substr(last_begin) == user_key;
    if (!repeat) {
      filter_keys_.append(user_key);
      filter_key_ends_.push_back(filter_keys_.size());
    }
  }
  data_block_.Add(internal_key, value);
  ++entries_;
  if (data_block_.SizeEstimate() >= options_.block_size) return FlushDataBlock();
  return Status::Ok();
}

Result<BlockHandle> TableBuilder::WriteBlock(std::string_view contents) {
  scratch_.assign(contents);
  AppendBlockTrailer(scratch_, contents);
  if (Status s = file_.Append(scratch_); !s.ok()) {
    status_ = s;
    return s;
  }
  BlockHandle handle{offset_, contents.size()};
  offset_ += scratch_.size();
  return handle;
}

Status TableBuilder::FlushDataBlock() {
  if (data_block_.empty()) return Status::Ok();
  last_key_.assign(data_block_.last_key());
  KV_ASSIGN_OR_RETURN(BlockHandle handle, WriteBlock(data_block_.Finish()));
  data_block_.Reset();
  // The index entry's key is the block's last key: every key in the block is <= it, and every
  // key in the next block is > it, so a seek for k goes to the first block whose entry is >= k.
  std::string encoded;
  EncodeBlockHandle(encoded, handle);
  index_block_.Add(last_key_, encoded);
  return Status::Ok();
}

Status TableBuilder::Finish() {
  KV_CHECK(!finished_, "TableBuilder::Finish called twice");
  KV_RETURN_IF_ERROR(status_);
  KV_RETURN_IF_ERROR(FlushDataBlock());
  finished_ = true;
  Footer footer;
  footer.entries = entries_;
  if (options_.bloom_bits_per_key > 0) {
    std::vector<std::string_view> keys;
    keys.reserve(filter_key_ends_.size());
    std::size_t begin = 0;
    for (std::size_t end : filter_key_ends_) {
      keys.push_back(std::string_view(filter_keys_).substr(begin, end - begin));
      begin = end;
    }
    const std::string filter = BuildBloomFilter(keys, options_.bloom_bits_per_key);
    KV_ASSIGN_OR_RETURN(footer.filter, WriteBlock(filter));
  }
  KV_ASSIGN_OR_RETURN(footer.index, WriteBlock(index_block_.Finish()));
  const std::string encoded = EncodeFooter(footer);
  if (Status s = file_.Append(encoded); !s.ok()) return status_ = s;
  offset_ += encoded.size();
  if (Status s = file_.Flush(); !s.ok()) return status_ = s;
  return Status::Ok();
}

}  // namespace kv::storage::lsm
