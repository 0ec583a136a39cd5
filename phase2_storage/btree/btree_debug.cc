// The B+tree's self-checks and pictures (btree_engine.h): CheckInvariants, DumpText, DumpDot.
// Each holds the writer lock, so the tree stands still while it is walked.
#include <functional>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "phase2_storage/btree/btree_engine.h"
#include "phase2_storage/btree/btree_internal.h"

namespace kv::storage::btree {

namespace {

// A key for people: printable bytes as they are, others as \xNN, long keys shortened.
std::string Printable(std::string_view key, std::size_t max = 24) {
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    // Also escaped: the characters Graphviz record labels give a meaning.
    if (c >= 0x20 && c < 0x7f &&
        std::string_view("\\\"{}|<>").find(static_cast<char>(c)) == std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (key.size() > max) out += fmt::format("...({} bytes)", key.size());
  return out;
}

}  // namespace

// Visits every tree page depth first, parents before children, children left to right.
Status BTreeEngine::Walk(
    const std::function<Status(PageId id, int depth, const char* page)>& fn) const {
  KV_ASSIGN_OR_RETURN(PageHandle meta_page, pool_->Pin(kMetaPageId));
  const Meta m = ReadMeta(meta_page.data());
  meta_page.Release();
  std::function<Status(PageId, int)> visit = [&](PageId id, int depth) -> Status {
    if (depth > static_cast<int>(m.height)) {
      return Status::Corruption(
          fmt::format("{}: the tree is deeper than its height {}", file_name_, m.height));
    }
    KV_ASSIGN_OR_RETURN(PageHandle page, pool_->Pin(id));
    KV_RETURN_IF_ERROR(fn(id, depth, page.data()));
    if (GetPageType(page.data()) != PageType::kInternal) return Status::Ok();
    const Node node = ReadNode(page.data(), geo_.page_size);
    page.Release();
    for (std::size_t i = 0; i <= node.cells.size(); ++i) {
      KV_RETURN_IF_ERROR(visit(i == 0 ? node.link : CellChild(node.cells[i - 1]), depth + 1));
    }
    return Status::Ok();
  };
  return visit(m.root, 1);
}

Status BTreeEngine::CheckInvariants() const {
  std::lock_guard lock(writer_mu_);
  KV_ASSIGN_OR_RETURN(PageHandle meta_page, pool_->Pin(kMetaPageId));
  KV_RETURN_IF_ERROR(CheckMeta(meta_page.data(), geo_.page_size));
  const Meta m = ReadMeta(meta_page.data());
  meta_page.Release();
  auto broken = [&](PageId id, std::string what) {
    return Status::Corruption(fmt::format("invariant broken at page {}: {}", id, what));
  };
  // What each page is: every page must be exactly one of meta, tree, overflow, free.
  std::vector<std::string_view> role(m.page_count);
  role[kMetaPageId] = "meta";
  auto claim = [&](PageId id, std::string_view what) -> Status {
    if (id == kNoPage || id >= m.page_count) {
      return broken(id, fmt::format("{} page number outside 1..{}", what, m.page_count - 1));
    }
    if (!role[id].empty()) {
      return broken(id, fmt::format("both {} and {}", role[id], what));
    }
    role[id] = what;
    return Status::Ok();
  };

  // Key bounds of each page, passed down from its parent: [low, high), unbounded if nullopt.
  struct Bounds {
    std::optional<std::string> low, high;
  };
  std::unordered_map<PageId, Bounds> bounds;
  bounds[m.root] = {};
  std::vector<PageId> leaves;
  const Status walked = Walk([&](PageId id, int depth, const char* page) -> Status {
    KV_RETURN_IF_ERROR(claim(id, "tree"));
    const PageType type = GetPageType(page);
    const bool is_leaf = depth == static_cast<int>(m.height);
    if (type != (is_leaf ? PageType::kLeaf : PageType::kInternal)) {
      return broken(
          id, fmt::format("a {} page at depth {} of {}", PageTypeName(type), depth, m.height));
    }
    const Node node = ReadNode(page, geo_.page_size);
    if (id != m.root && node.used() < geo_.min_fill) {
      return broken(id,
                    fmt::format("{} bytes used, below the minimum {}", node.used(), geo_.min_fill));
    }
    if (!is_leaf && node.cells.empty()) return broken(id, "an internal page without separators");
    const Bounds b = bounds[id];
    for (std::size_t i = 0; i < node.cells.size(); ++i) {
      const std::string_view key = CellKey(node.cells[i]);
      if (i > 0 && !(CellKey(node.cells[i - 1]) < key))
        return broken(id, fmt::format("keys {} and {} out of order", i - 1, i));
      if (b.low && key < *b.low) {
        return broken(id, fmt::format("key '{}' below its parent's separator '{}'", Printable(key),
                                      Printable(*b.low)));
      }
      if (b.high && !(key < *b.high)) {
        return broken(id, fmt::format("key '{}' not below its parent's separator '{}'",
                                      Printable(key), Printable(*b.high)));
      }
    }
    if (is_leaf) {
      leaves.push_back(id);
      for (const std::string& cell : node.cells) {
        if (!CellIsOverflow(cell)) continue;
        const std::uint32_t length = CellValueLength(cell);
        if (geo_.FitsInline(CellKey(cell).size(), length)) {
          return broken(id, "an overflow value that would fit inline");
        }
        PageId o = CellOverflowPage(cell);
        std::size_t total = 0;
        while (o != kNoPage) {
          KV_RETURN_IF_ERROR(claim(o, "overflow"));
          KV_ASSIGN_OR_RETURN(PageHandle op, pool_->Pin(o));
          if (GetPageType(op.data()) != PageType::kOverflow)
            return broken(o, "not an overflow page");
          total += PageCount(op.data());
          o = PageLink(op.data());
        }
        if (total != length) {
          return broken(
              id, fmt::format("overflow chain holds {} bytes for a {}-byte value", total, length));
        }
      }
      return Status::Ok();
    }
    for (std::size_t i = 0; i <= node.cells.size(); ++i) {
      Bounds child = b;
      if (i > 0) child.low = std::string(CellKey(node.cells[i - 1]));
      if (i < node.cells.size()) child.high = std::string(CellKey(node.cells[i]));
      bounds[i == 0 ? node.link : CellChild(node.cells[i - 1])] = std::move(child);
    }
    return Status::Ok();
  });
  KV_RETURN_IF_ERROR(walked);

  // The sibling chain visits exactly the leaves, in key order.
  PageId at = leaves.front();
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (at != leaves[i]) {
      return broken(leaves[i], fmt::format("sibling chain reaches page {} instead", at));
    }
    KV_ASSIGN_OR_RETURN(PageHandle page, pool_->Pin(at));
    at = PageLink(page.data());
  }
  if (at != kNoPage)
    return broken(leaves.back(), fmt::format("the last leaf links to page {}", at));

  // The free list.
  std::uint32_t free_pages = 0;
  for (PageId f = m.free_head; f != kNoPage;) {
    KV_RETURN_IF_ERROR(claim(f, "free"));
    KV_ASSIGN_OR_RETURN(PageHandle page, pool_->Pin(f));
    if (GetPageType(page.data()) != PageType::kFree)
      return broken(f, "on the free list but not free");
    f = PageLink(page.data());
    ++free_pages;
  }
  if (free_pages != m.free_count) {
    return broken(kMetaPageId,
                  fmt::format("free list holds {} pages, meta says {}", free_pages, m.free_count));
  }
  for (PageId id = 1; id < m.page_count; ++id) {
    if (role[id].empty()) return broken(id, "neither in the tree nor free (leaked)");
  }
  return Status::Ok();
}

Result<std::string> BTreeEngine::DumpText() const {
  std::lock_guard lock(writer_mu_);
  std::string out;
  KV_RETURN_IF_ERROR(Walk([&](PageId id, int depth, const char* page) {
    const Node node = ReadNode(page, geo_.page_size);
    out.append(static_cast<std::size_t>(depth - 1) * 2, ' ');
    if (node.type == PageType::kInternal) {
      out += fmt::format("internal {}: [{}]", id, node.link);
      for (const auto& c : node.cells)
        out += fmt::format(" '{}' [{}]", Printable(CellKey(c)), CellChild(c));
    } else {
      out += fmt::format("leaf {} ({} keys, next {}):", id, node.cells.size(), node.link);
      for (const auto& c : node.cells) out += fmt::format(" '{}'", Printable(CellKey(c)));
    }
    out += '\n';
    return Status::Ok();
  }));
  return out;
}

Result<std::string> BTreeEngine::DumpDot() const {
  std::lock_guard lock(writer_mu_);
  std::string nodes;
  std::string edges;
  KV_RETURN_IF_ERROR(Walk([&](PageId id, int, const char* page) {
    const Node node = ReadNode(page, geo_.page_size);
    std::string label = fmt::format("page {}|", id);
    for (std::size_t i = 0; i < node.cells.size(); ++i) {
      label += (i > 0 ? "|" : "") + Printable(CellKey(node.cells[i]), 12);
    }
    nodes += fmt::format("  p{} [label=\"{}\"];\n", id, label);
    if (node.type == PageType::kInternal) {
      for (std::size_t i = 0; i <= node.cells.size(); ++i) {
        edges +=
            fmt::format("  p{} -> p{};\n", id, i == 0 ? node.link : CellChild(node.cells[i - 1]));
      }
    } else if (node.link != kNoPage) {
      edges += fmt::format("  p{} -> p{} [style=dashed, constraint=false];\n", id, node.link);
    }
    return Status::Ok();
  }));
  return fmt::format("digraph btree {{\n  node [shape=record];\n{}{}}}\n", nodes, edges);
}

}  // namespace kv::storage::btree
