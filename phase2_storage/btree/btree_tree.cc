// The B+tree algorithms, run inside one write (btree_engine.h): descent, insert with splits,
// delete with merge and redistribution, overflow chains.
//
// Leaf changes that fit are made in place on the slotted page (page.h), so the log records only
// the bytes that moved. Anything that moves cells between pages (a split, a merge, a
// redistribution) takes the nodes out of their pages (Node), rebuilds them and stores them back;
// StoreAndFix then repairs the parent, one level at a time up the descent's path:
//   * a node that no longer fits one page splits, and its parent gains a separator;
//   * a node other than the root that falls below min_fill merges with a sibling (if both fit
//     one page) or shares their cells evenly with it, and its parent loses or changes a
//     separator;
//   * a root that is an internal node with no separator left is replaced by its only child.
#include <fmt/format.h>

#include "common/check.h"
#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/btree/btree_internal.h"

namespace kv::storage::btree {

namespace {

PageId NodeChild(const Node& node, std::size_t index) {
  return index == 0 ? node.link : CellChild(node.cells[index - 1]);
}

}  // namespace

Result<BTreeEngine::Path> BTreeEngine::Descend(WriteOp& op, std::string_view key) {
  KV_ASSIGN_OR_RETURN(Meta * m, op.meta());
  Path path;
  path.push_back({m->root, -1});
  for (std::uint32_t depth = 1;; ++depth) {
    KV_ASSIGN_OR_RETURN(const char* page, op.Page(path.back().id));
    const PageType type = GetPageType(page);
    const bool leaf_depth = depth == m->height;
    if ((type == PageType::kLeaf) != leaf_depth || (!leaf_depth && type != PageType::kInternal)) {
      return Status::Corruption(
          fmt::format("{}: page {} at depth {} of a tree of height {} is a {} page", file_name_,
                      path.back().id, depth, m->height, PageTypeName(type)));
    }
    if (leaf_depth) return path;
    int index = 0;
    const PageId child = SlottedPage(const_cast<char*>(page), geo_.page_size).ChildFor(key, &index);
    path.push_back({child, index});
  }
}

Status BTreeEngine::PutOne(WriteOp& op, std::string_view key, std::string_view value) {
  KV_ASSIGN_OR_RETURN(Path path, Descend(op, key));
  std::string cell;
  if (geo_.FitsInline(key.size(), value.size())) {
    cell = MakeLeafCell(key, value);
  } else {
    KV_ASSIGN_OR_RETURN(PageId first, WriteOverflow(op, value));
    cell = MakeOverflowCell(key, static_cast<std::uint32_t>(value.size()), first);
  }
  const PageId leaf_id = path.back().id;
  KV_ASSIGN_OR_RETURN(char* page, op.Mutable(leaf_id));
  SlottedPage leaf(page, geo_.page_size);
  bool found = false;
  const int i = leaf.LowerBound(key, &found);
  if (found) {
    const std::string_view old = leaf.cell(i);
    if (CellIsOverflow(old)) {
      KV_RETURN_IF_ERROR(FreeOverflow(op, CellOverflowPage(old), CellValueLength(old)));
    }
  }
  if (found ? leaf.Replace(i, cell) : leaf.Insert(i, cell)) {
    if (path.size() > 1 && leaf.used() < geo_.min_fill) {
      return Rebalance(op, path, path.size() - 1);  // A smaller value replaced a big one.
    }
    return Status::Ok();
  }
  Node node = ReadNode(page, geo_.page_size);
  // Appending past the last key of the last leaf (keys arriving in order) splits off only a
  // small right page, so the left one stays full instead of half full.
  const bool append = !found && i == leaf.count() && leaf.link() == kNoPage;
  if (found) {
    node.cells[static_cast<std::size_t>(i)] = std::move(cell);
  } else {
    node.cells.insert(node.cells.begin() + i, std::move(cell));
  }
  return StoreAndFix(op, path, path.size() - 1, std::move(node), append);
}

Status BTreeEngine::DeleteOne(WriteOp& op, std::string_view key) {
  KV_ASSIGN_OR_RETURN(Path path, Descend(op, key));
  const PageId leaf_id = path.back().id;
  {
    KV_ASSIGN_OR_RETURN(const char* page, op.Page(leaf_id));
    bool found = false;
    SlottedPage(const_cast<char*>(page), geo_.page_size).LowerBound(key, &found);
    if (!found) return Status::Ok();  // Nothing to delete: the page stays unchanged.
  }
  KV_ASSIGN_OR_RETURN(char* page, op.Mutable(leaf_id));
  SlottedPage leaf(page, geo_.page_size);
  bool found = false;
  const int i = leaf.LowerBound(key, &found);
  const std::string_view old = leaf.cell(i);
  if (CellIsOverflow(old)) {
    KV_RETURN_IF_ERROR(FreeOverflow(op, CellOverflowPage(old), CellValueLength(old)));
  }
  leaf.Remove(i);
  if (path.size() > 1 && leaf.used() < geo_.min_fill) {
    return Rebalance(op, path, path.size() - 1);
  }
  return Status::Ok();
}

Status BTreeEngine::StoreAndFix(WriteOp& op, const Path& path, std::size_t level, Node node,
                                bool append) {
  const PageId id = path[level].id;
  if (node.used() <= geo_.usable) {
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(id));
    StoreNode(node, page, geo_.page_size);
    if (level > 0 && node.used() < geo_.min_fill) return Rebalance(op, path, level);
    if (level == 0) return CollapseRoot(op);
    return Status::Ok();
  }
  // Split: the left half stays in this page, the right half goes to a new one.
  const bool internal = node.type == PageType::kInternal;
  std::size_t k = BalancedSplitPoint(node.cells, internal);
  if (append && !internal) {
    // The smallest tail that still fills a page to the minimum. The left page then holds at most
    // what the page held before the insert.
    std::size_t tail = 0;
    k = node.cells.size();
    while (k > 1 && tail < geo_.min_fill) tail += node.cells[--k].size() + 2;
  }
  Node right;
  right.type = node.type;
  std::string separator;
  if (internal) {
    separator = std::string(CellKey(node.cells[k]));
    right.link = CellChild(node.cells[k]);
    right.cells.assign(std::make_move_iterator(node.cells.begin() + static_cast<long>(k) + 1),
                       std::make_move_iterator(node.cells.end()));
  } else {
    right.cells.assign(std::make_move_iterator(node.cells.begin() + static_cast<long>(k)),
                       std::make_move_iterator(node.cells.end()));
    separator = std::string(CellKey(right.cells.front()));
  }
  node.cells.resize(k);
  KV_ASSIGN_OR_RETURN(PageId right_id, op.Allocate());
  if (!internal) {
    right.link = node.link;  // The sibling chain: node -> right -> what followed node.
    node.link = right_id;
  }
  {
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(id));
    StoreNode(node, page, geo_.page_size);
    KV_ASSIGN_OR_RETURN(char* right_page, op.Mutable(right_id));
    StoreNode(right, right_page, geo_.page_size);
  }
  ++counters_.splits;
  if (level == 0) {
    // The root split: a new root above the two halves.
    KV_ASSIGN_OR_RETURN(PageId root_id, op.Allocate());
    Node root;
    root.type = PageType::kInternal;
    root.link = id;
    root.cells.push_back(MakeInternalCell(separator, right_id));
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(root_id));
    StoreNode(root, page, geo_.page_size);
    KV_ASSIGN_OR_RETURN(Meta * m, op.meta());
    m->root = root_id;
    ++m->height;
    return Status::Ok();
  }
  KV_ASSIGN_OR_RETURN(const char* parent_page, op.Page(path[level - 1].id));
  Node parent = ReadNode(parent_page, geo_.page_size);
  parent.cells.insert(parent.cells.begin() + path[level].index,
                      MakeInternalCell(separator, right_id));
  return StoreAndFix(op, path, level - 1, std::move(parent));
}

Status BTreeEngine::Rebalance(WriteOp& op, const Path& path, std::size_t level) {
  const PageId parent_id = path[level - 1].id;
  KV_ASSIGN_OR_RETURN(const char* parent_page, op.Page(parent_id));
  Node parent = ReadNode(parent_page, geo_.page_size);
  if (parent.cells.empty()) {
    return Status::Corruption(
        fmt::format("{}: internal page {} has a single child", file_name_, parent_id));
  }
  // The node and its right sibling, or its left one if it is the last child.
  const auto index = static_cast<std::size_t>(path[level].index);
  const std::size_t left = index < parent.cells.size() ? index : index - 1;
  const PageId left_id = NodeChild(parent, left);
  const PageId right_id = NodeChild(parent, left + 1);
  KV_ASSIGN_OR_RETURN(const char* lp, op.Page(left_id));
  Node l = ReadNode(lp, geo_.page_size);
  KV_ASSIGN_OR_RETURN(const char* rp, op.Page(right_id));
  Node r = ReadNode(rp, geo_.page_size);
  const bool internal = l.type == PageType::kInternal;

  std::vector<std::string> all = std::move(l.cells);
  if (internal) {
    // The separator comes down between the two runs, over the right node's leftmost child.
    all.push_back(MakeInternalCell(CellKey(parent.cells[left]), r.link));
  }
  for (std::string& c : r.cells) all.push_back(std::move(c));
  Node merged{l.type, internal ? l.link : r.link, std::move(all)};

  if (merged.used() <= geo_.usable) {
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(left_id));
    StoreNode(merged, page, geo_.page_size);
    KV_RETURN_IF_ERROR(op.Free(right_id));
    parent.cells.erase(parent.cells.begin() + static_cast<long>(left));
    ++counters_.merges;
  } else {
    // Share the cells evenly; the parent's separator between the two changes.
    const std::size_t k = BalancedSplitPoint(merged.cells, internal);
    Node nl{l.type, l.link, {}};
    Node nr{l.type, r.link, {}};
    std::string separator;
    if (internal) {
      separator = std::string(CellKey(merged.cells[k]));
      nr.link = CellChild(merged.cells[k]);
      nr.cells.assign(merged.cells.begin() + static_cast<long>(k) + 1, merged.cells.end());
    } else {
      nr.cells.assign(merged.cells.begin() + static_cast<long>(k), merged.cells.end());
      separator = std::string(CellKey(nr.cells.front()));
      nl.link = right_id;
    }
    nl.cells.assign(merged.cells.begin(), merged.cells.begin() + static_cast<long>(k));
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(left_id));
    StoreNode(nl, page, geo_.page_size);
    KV_ASSIGN_OR_RETURN(char* right_page, op.Mutable(right_id));
    StoreNode(nr, right_page, geo_.page_size);
    parent.cells[left] = MakeInternalCell(separator, right_id);
    ++counters_.redistributions;
  }
  return StoreAndFix(op, path, level - 1, std::move(parent));
}

Status BTreeEngine::CollapseRoot(WriteOp& op) {
  KV_ASSIGN_OR_RETURN(Meta * m, op.meta());
  for (;;) {
    KV_ASSIGN_OR_RETURN(const char* page, op.Page(m->root));
    if (GetPageType(page) != PageType::kInternal || PageCount(page) > 0) return Status::Ok();
    const PageId child = PageLink(page);
    KV_RETURN_IF_ERROR(op.Free(m->root));
    m->root = child;
    --m->height;
  }
}

Result<PageId> BTreeEngine::WriteOverflow(WriteOp& op, std::string_view value) {
  const std::size_t per_page = geo_.overflow_payload;
  const std::size_t pages = (value.size() + per_page - 1) / per_page;
  std::vector<PageId> ids;
  ids.reserve(pages);
  for (std::size_t i = 0; i < pages; ++i) {
    KV_ASSIGN_OR_RETURN(PageId id, op.Allocate());
    ids.push_back(id);
  }
  for (std::size_t i = 0; i < pages; ++i) {
    KV_ASSIGN_OR_RETURN(char* page, op.Mutable(ids[i]));
    const std::string_view chunk = value.substr(i * per_page, per_page);
    std::memset(page + kTypeOffset, 0, geo_.page_size - kTypeOffset);
    page[kTypeOffset] = static_cast<char>(PageType::kOverflow);
    StoreFixed<std::uint16_t>(page + kCountOffset, static_cast<std::uint16_t>(chunk.size()));
    SetPageLink(page, i + 1 < pages ? ids[i + 1] : kNoPage);
    std::memcpy(page + kPageHeaderSize, chunk.data(), chunk.size());
  }
  return ids.front();
}

Status BTreeEngine::FreeOverflow(WriteOp& op, PageId first, std::uint32_t length) {
  const std::size_t pages = (length + geo_.overflow_payload - 1) / geo_.overflow_payload;
  PageId id = first;
  for (std::size_t i = 0; i < pages; ++i) {
    KV_ASSIGN_OR_RETURN(const char* page, op.Page(id));
    if (GetPageType(page) != PageType::kOverflow) {
      return Status::Corruption(fmt::format("{}: page {} in an overflow chain is a {} page",
                                            file_name_, id, PageTypeName(GetPageType(page))));
    }
    const PageId next = PageLink(page);
    KV_RETURN_IF_ERROR(op.Free(id));
    id = next;
  }
  return Status::Ok();
}

}  // namespace kv::storage::btree
