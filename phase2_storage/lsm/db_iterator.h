// The user's view of the LSM tree through an iterator: user keys, each at most once, as of one
// sequence number.
//
// Underneath is a merge of the memtables and tables (merging_iterator.h) yielding internal keys:
// every version of every key, newest first within a key. This iterator turns that into what the
// OrderedEngine contract promises: for each user key, the newest version whose sequence is at or
// before the snapshot; the key is left out if that version is a tombstone; versions newer than
// the snapshot are invisible.
//
// Thread safety: one thread, like every iterator.
#pragma once

#include <memory>
#include <vector>

#include "phase2_storage/lsm/internal_key.h"
#include "phase2_storage/ordered_engine.h"

namespace kv::storage::lsm {

// `pins` keeps alive what `internal` reads (memtables, the version whose tables it opened).
std::unique_ptr<Iterator> NewDbIterator(std::unique_ptr<Iterator> internal, SequenceNumber snapshot,
                                        std::vector<std::shared_ptr<const void>> pins);

}  // namespace kv::storage::lsm
