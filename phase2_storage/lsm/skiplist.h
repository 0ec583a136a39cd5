// SkipList: the sorted set under the memtable. Keys go in, never come out, and can be read in
// order by any number of threads while one thread keeps inserting.
//
// A skip list (Pugh, "Skip Lists: A Probabilistic Alternative to Balanced Trees", CACM 1990) is a
// sorted linked list (level 0) with sparser "express lanes" above it: a node of height h is
// linked into levels 0..h-1, and h is drawn at random (each level above the first with
// probability 1/kBranching), so a search that runs along the top level and drops a level when
// it would overshoot visits O(log n) nodes in expectation. Unlike a balanced tree it never moves
// or rebalances existing nodes, which is what makes lock-free readers cheap: an insert only
// writes the new node and then swings one pointer per level.
//
// Key is trivially copyable, default-constructible (the head node holds an unused Key{}) and cheap
// to copy (the memtable uses a `const char*` into the arena); the list stores a copy per node.
// Comparator is a callable with
//   int operator()(const Key& a, const Key& b) const   // < 0, 0, > 0 as a <, ==, > b
// Nodes are placement-new'd into `arena` and never freed on their own: they live until the arena
// is destroyed, which must not happen while the list or any of its iterators is in use. The list
// does not own the arena.
//
// Thread safety:
//   * Insert needs external synchronisation: one writer at a time (the memtable's write path
//     holds a mutex, or has a single writer thread).
//   * Readers (Contains, Iterator) need none. They may run on any number of threads at once and
//     concurrently with the writer, and see every key whose Insert returned before the read
//     began (plus, possibly, some that are being inserted). Nothing is ever removed, so a node a
//     reader holds stays valid.
//   How: every link is a std::atomic<Node*>. The writer fills in a new node completely (key and
//   all its links) and only then publishes it with a release store into its predecessors' links;
//   readers follow links with acquire loads. A reader that loads a pointer to the node therefore
//   also sees everything written to the node before that release store, so it can never observe
//   a half-initialised node. See Insert for why the levels are linked bottom first.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "common/check.h"
#include "common/random.h"
#include "phase2_storage/lsm/arena.h"

namespace kv::storage::lsm {

template <typename Key, class Comparator>
class SkipList {
 private:
  struct Node;

 public:
  static constexpr int kMaxHeight = 12;
  // A node reaching level i also reaches level i+1 with probability 1/kBranching. With 4 (Pugh's
  // analysis) a search makes about kBranching * log_4(n) comparisons, ~29 for 20,000 keys, and a
  // node carries 1 / (1 - 1/4) = 4/3 links on average; with 2 it would make fewer comparisons
  // (2 * log_2 n) but carry twice the links. 12 levels serve 4^12 = 16M keys before the top
  // level gets crowded, far more than a memtable of a few MiB holds.
  static constexpr std::uint64_t kBranching = 4;

  // `arena` must outlive the list. `seed` drives the node heights, so a run is reproducible.
  SkipList(Comparator cmp, Arena* arena, std::uint64_t seed);
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // Adds `key`. REQUIRES: nothing comparing equal to `key` is in the list (KV_CHECKed), and no
  // other Insert runs at the same time.
  void Insert(const Key& key);

  // Whether a key comparing equal to `key` is in the list.
  bool Contains(const Key& key) const;

  // A position in the list, or no position (!Valid()). Safe to use concurrently with Insert (see
  // the header comment). Keys it shows are always in order; a key whose Insert returned before a
  // move (Seek*, Next, Prev) is never stepped over by that move, and keys being inserted meanwhile
  // may or may not be seen.
  class Iterator {
   public:
    // Starts !Valid(). `list` must outlive the iterator.
    explicit Iterator(const SkipList* list) : list_(list), node_(nullptr) {}

    bool Valid() const { return node_ != nullptr; }
    // REQUIRES: Valid().
    const Key& key() const {
      KV_CHECK(Valid(), "SkipList::Iterator::key() on an invalid iterator");
      return node_->key;
    }
    // Moves to the next key; !Valid() after the last one. REQUIRES: Valid().
    void Next() {
      KV_CHECK(Valid(), "SkipList::Iterator::Next() on an invalid iterator");
      node_ = node_->Next(0);
    }
    // Moves to the previous key; !Valid() before the first one. REQUIRES: Valid().
    //
    // Nodes have no back links (keeping a second link per node consistent for lock-free readers
    // would cost memory and another ordered store per insert, and the memtable mostly scans
    // forward). So Prev is a fresh search from the head for the last node before the current
    // key: O(log n) expected, against O(1) for Next.
    void Prev() {
      KV_CHECK(Valid(), "SkipList::Iterator::Prev() on an invalid iterator");
      node_ = list_->NodeOrNull(list_->FindSplice(node_->key).prev[0]);
    }
    // Moves to the first key >= target; !Valid() if there is none.
    void Seek(const Key& target) { node_ = list_->FindSplice(target).next; }
    // Moves to the first key; !Valid() if the list is empty.
    void SeekToFirst() { node_ = list_->head_->Next(0); }
    // Moves to the last key; !Valid() if the list is empty.
    void SeekToLast() { node_ = list_->NodeOrNull(list_->FindLast()); }

   private:
    const SkipList* list_;
    Node* node_;  // nullptr when !Valid()
  };

 private:
  // Where a key sits in the list: prev[i] is the last node at level i whose key is < the search
  // key (head_ if none, and head_ for every level above the current height); next is the first
  // node at level 0 whose key is >= the search key (nullptr if none).
  struct Splice {
    std::array<Node*, kMaxHeight> prev;
    Node* next;
  };

  // A height in [1, kMaxHeight]: P(height > h) = (1/kBranching)^h.
  int RandomHeight();
  Node* NewNode(const Key& key, int height);
  Splice FindSplice(const Key& key) const;
  // The last node (head_ if the list is empty).
  Node* FindLast() const;
  // Turns the head, which is not a key of the list, into "no position".
  Node* NodeOrNull(Node* node) const { return node == head_ ? nullptr : node; }
  int height() const { return height_.load(std::memory_order_relaxed); }

  const Comparator compare_;
  Arena* const arena_;
  // A sentinel of height kMaxHeight in front of the first node; its key is never compared.
  Node* const head_;
  // The height of the tallest node. Only the writer changes it; readers load it relaxed, which is
  // safe either way: a stale (lower) value only makes a search skip the newest, mostly empty, top
  // levels, and a new (higher) value before the links are stored only shows head_ links that are
  // still nullptr, which a search takes as "nothing at this level" and drops down.
  std::atomic<int> height_;
  Random random_;  // Used by the writer only.
};

// A node is a Node followed in the same arena allocation by `height` links, one per level it is in:
//   [ Node{key} | padding to alignof(Link) | Link[0] Link[1] ... Link[height - 1] ]
// Storing the links after the node rather than as a kMaxHeight array inside it saves memory:
// with kBranching 4 a node has 4/3 links on average instead of 12.
template <typename Key, class Comparator>
struct SkipList<Key, Comparator>::Node {
  using Link = std::atomic<Node*>;

  explicit Node(const Key& k) : key(k) {}

  static std::size_t AllocationSize(int height) {
    return LinksOffset() + sizeof(Link) * static_cast<std::size_t>(height);
  }
  // Where the links start, past the Node and padding.
  static constexpr std::size_t LinksOffset() {
    return (sizeof(Node) + alignof(Link) - 1) / alignof(Link) * alignof(Link);
  }

  // The successor at `level`, with acquire ordering: the node it returns is fully initialised.
  Node* Next(int level) const { return links()[level].load(std::memory_order_acquire); }
  // Links `node` in after this one at `level` with release ordering, publishing everything
  // written to `node` before.
  void SetNext(int level, Node* node) { links()[level].store(node, std::memory_order_release); }
  // Unordered versions, for the writer only: reading links only it writes, and filling in a node
  // no reader can reach yet.
  Node* RelaxedNext(int level) const { return links()[level].load(std::memory_order_relaxed); }
  void RelaxedSetNext(int level, Node* node) {
    links()[level].store(node, std::memory_order_relaxed);
  }

  const Key key;

 private:
  // The links array was created by placement new[] at this address (NewNode); launder because
  // the pointer is derived from `this`, not from that new-expression.
  Link* links() {
    return std::launder(reinterpret_cast<Link*>(reinterpret_cast<char*>(this) + LinksOffset()));
  }
  const Link* links() const {
    return std::launder(
        reinterpret_cast<const Link*>(reinterpret_cast<const char*>(this) + LinksOffset()));
  }
};

template <typename Key, class Comparator>
SkipList<Key, Comparator>::SkipList(Comparator cmp, Arena* arena, std::uint64_t seed)
    : compare_(cmp), arena_(arena), head_(NewNode(Key{}, kMaxHeight)), height_(1), random_(seed) {
  static_assert(std::is_trivially_copyable_v<Key>,
                "nodes copy keys bytewise and are never destroyed");
  static_assert(alignof(Node) <= Arena::kAlignment, "a node must fit the arena's alignment");
  static_assert(std::atomic<Node*>::is_always_lock_free, "readers must never block");
}

template <typename Key, class Comparator>
int SkipList<Key, Comparator>::RandomHeight() {
  int h = 1;
  while (h < kMaxHeight && random_.OneIn(kBranching)) ++h;
  return h;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::NewNode(const Key& key,
                                                                             int height) {
  char* memory = arena_->AllocateAligned(Node::AllocationSize(height));
  Node* node = new (memory) Node(key);
  // Value-initialised: every link starts as nullptr ("end of this level").
  new (memory + Node::LinksOffset()) typename Node::Link[static_cast<std::size_t>(height)]();
  return node;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Splice SkipList<Key, Comparator>::FindSplice(
    const Key& key) const {
  Splice splice;
  splice.prev.fill(head_);
  Node* x = head_;
  Node* next = nullptr;
  for (int level = height() - 1; level >= 0; --level) {
    // Loop invariant (not checked: that would add a comparison per level): x is head_ or a node
    // whose key is < key, and x is in this level's list.
    next = x->Next(level);
    while (next != nullptr && compare_(next->key, key) < 0) {
      x = next;
      next = x->Next(level);
    }
    splice.prev[level] = x;
  }
  // `next` is the level-0 successor as loaded during the search, not reloaded: a key inserted
  // after x since then may be < key, and reloading would return it.
  splice.next = next;
  return splice;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindLast() const {
  Node* x = head_;
  for (int level = height() - 1; level >= 0; --level) {
    for (Node* next = x->Next(level); next != nullptr; next = x->Next(level)) x = next;
  }
  return x;
}

template <typename Key, class Comparator>
void SkipList<Key, Comparator>::Insert(const Key& key) {
  // Levels at or above the current height keep head_ as their predecessor (FindSplice fills
  // them so), which is where a node taller than the list gets linked.
  Splice splice = FindSplice(key);
  KV_CHECK(splice.next == nullptr || compare_(splice.next->key, key) != 0,
           "SkipList::Insert: the key is already in the list");

  const int node_height = RandomHeight();
  if (node_height > height()) height_.store(node_height, std::memory_order_relaxed);

  // Fill in the node before anyone can reach it: relaxed stores suffice, because the release
  // store that links it at level 0 below publishes them along with the key.
  Node* node = NewNode(key, node_height);
  for (int level = 0; level < node_height; ++level) {
    node->RelaxedSetNext(level, splice.prev[level]->RelaxedNext(level));
  }
  // Publish bottom level first. Level 0 is the set itself; the levels above are only shortcuts
  // into it. Linking upwards keeps every level a sublist of the one below at every instant, so
  // whatever a reader can reach through a shortcut is already in the set. Linked top first, a
  // search could pass through the node on level 1 before it is in level 0: Prev from its
  // successor would step onto it, then Next from its predecessor, walking level 0, would step
  // over it, so one reader would see the key going backwards and not going forwards. The key
  // counts as inserted from the level-0 store on.
  for (int level = 0; level < node_height; ++level) {
    splice.prev[level]->SetNext(level, node);
  }
}

template <typename Key, class Comparator>
bool SkipList<Key, Comparator>::Contains(const Key& key) const {
  Node* next = FindSplice(key).next;
  return next != nullptr && compare_(next->key, key) == 0;
}

}  // namespace kv::storage::lsm
