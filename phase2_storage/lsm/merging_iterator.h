// MergingIterator: one sorted stream out of several sorted streams — the memtables and tables a
// read or a compaction must consider, merged in internal-key order.
//
// Entries with equal user keys but different sequence numbers come out newest first, because
// that is the internal-key order; two children never hold the same internal key (a sequence
// number is written once). Deciding which versions a reader sees is the job of the layer above
// (lsm_engine.cc), and dropping versions nobody can see is compaction's.
//
// A child that fails (a corrupt block, a read error) stops the merge: the merged iterator becomes
// not Valid() and reports the child's status. Skipping the child would silently drop its keys,
// which is the one thing a storage engine must never do.
//
// Thread safety: one thread, like every iterator.
#pragma once

#include <memory>
#include <vector>

#include "phase2_storage/lsm/block.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

// REQUIRES: each child iterates in `compare` order.
std::unique_ptr<Iterator> NewMergingIterator(std::vector<std::unique_ptr<Iterator>> children,
                                             KeyComparator compare);

}  // namespace kv::storage::lsm
