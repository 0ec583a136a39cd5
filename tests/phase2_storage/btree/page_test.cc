// The B+tree's page layer: slotted pages against a model, the balanced split, page checksums
// and layout checks, and redo records (a diff or image applied to the old page gives the new).
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "common/testing/status_matchers.h"
#include "phase2_storage/btree/page.h"
#include "phase2_storage/btree/redo.h"

namespace kv::storage::btree {
namespace {

// Random inserts, replaces and removes on one leaf page against a sorted map; the page must
// hold exactly the model, stay within its bytes, and refuse a cell only when it truly has no
// room (used + cell + slot > usable).
RC_GTEST_PROP(SlottedPage, RandomEdits_MatchModel_RefuseOnlyWhenFull, ()) {
  const std::size_t ps = *rc::gen::element<std::size_t>(1024, 4096);
  const PageGeometry geo(ps);
  std::string buf(ps, '\0');
  SlottedPage page(buf.data(), ps);
  page.Init(PageType::kLeaf, kNoPage);
  std::map<std::string, std::string> model;
  const int steps = *rc::gen::inRange(1, 300);
  for (int s = 0; s < steps; ++s) {
    const std::string key = fmt::format("k{:03}", *rc::gen::inRange(0, 120));
    const std::string value(*rc::gen::inRange<std::size_t>(0, geo.max_cell - 12), 'a' + s % 26);
    const std::string cell = MakeLeafCell(key, value);
    bool found = false;
    const int i = page.LowerBound(key, &found);
    RC_ASSERT(found == model.contains(key));
    if (*rc::gen::inRange(0, 4) == 0 && found) {
      page.Remove(i);
      model.erase(key);
    } else {
      const std::size_t old = found ? page.cell(i).size() : 0;
      const bool room = page.used() - old + cell.size() + (found ? 0 : 2) <= geo.usable;
      const bool ok = found ? page.Replace(i, cell) : page.Insert(i, cell);
      RC_ASSERT(ok == room);
      if (ok) model[key] = value;
    }
    RC_ASSERT(page.count() == static_cast<int>(model.size()));
    int j = 0;
    for (const auto& [k, v] : model) {
      RC_ASSERT(page.key(j) == k);
      RC_ASSERT(CellInlineValue(page.cell(j)) == v);
      ++j;
    }
    SealPage(buf.data(), ps);
    RC_ASSERT(VerifyPage(buf.data(), ps, 5, "f").ok());
  }
}

TEST(SlottedPage, InternalPage_ChildForFollowsSeparators) {
  std::string buf(1024, '\0');
  SlottedPage page(buf.data(), buf.size());
  page.Init(PageType::kInternal, 10);
  ASSERT_TRUE(page.Insert(0, MakeInternalCell("m", 11)));
  ASSERT_TRUE(page.Insert(1, MakeInternalCell("t", 12)));
  int index = -1;
  EXPECT_EQ(page.ChildFor("a", &index), 10u);
  EXPECT_EQ(index, 0);
  EXPECT_EQ(page.ChildFor("m", &index), 11u) << "a key equal to a separator goes right of it";
  EXPECT_EQ(page.ChildFor("s", &index), 11u);
  EXPECT_EQ(page.ChildFor("t", &index), 12u);
  EXPECT_EQ(index, 2);
}

TEST(BalancedSplit, ByteBalanced_InternalLeavesTheMiddleCellOut) {
  std::vector<std::string> cells = {std::string(100, 'a'), std::string(10, 'b'),
                                    std::string(10, 'c'), std::string(10, 'd'),
                                    std::string(100, 'e')};
  EXPECT_EQ(BalancedSplitPoint(cells, false), 2u);  // 112 | 36+102
  EXPECT_EQ(BalancedSplitPoint(cells, true), 2u);   // 112 | [c] | 114
}

TEST(PageChecksum, AnyFlippedBit_Detected_NamingFileAndPage) {
  std::string buf(1024, '\0');
  SlottedPage page(buf.data(), buf.size());
  page.Init(PageType::kLeaf, kNoPage);
  ASSERT_TRUE(page.Insert(0, MakeLeafCell("key", "value")));
  SealPage(buf.data(), buf.size());
  ASSERT_OK(VerifyPage(buf.data(), buf.size(), 9, "db/pages.db"));
  for (std::size_t byte = 0; byte < buf.size(); byte += 7) {
    buf[byte] = static_cast<char>(buf[byte] ^ (1 << (byte % 8)));
    const Status s = VerifyPage(buf.data(), buf.size(), 9, "db/pages.db");
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << byte;
    EXPECT_NE(s.message().find("db/pages.db: page 9 (offset 9216)"), std::string::npos)
        << s.ToString();
    buf[byte] = static_cast<char>(buf[byte] ^ (1 << (byte % 8)));
  }
}

// The check a leaf read from the mapping gets (BufferPool::ReadUncached): the copy is exact, and
// it passes or fails as VerifyPage does on it, whatever bit of the source is flipped. 4 KiB pages,
// so the copy takes the carry-less path where the CPU has it.
TEST(VerifyPage, CopyAndVerify_CopiesExactly_AndFailsWhereVerifyPageFails) {
  const std::size_t ps = 4096;
  std::string buf(ps, '\0');
  SlottedPage page(buf.data(), ps);
  page.Init(PageType::kLeaf, kNoPage);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(page.Insert(
        i, MakeLeafCell(fmt::format("key{:04}", i), std::string(100, static_cast<char>('a' + i)))));
  }
  SealPage(buf.data(), ps);
  std::string copy(ps, '\0');
  ASSERT_OK(CopyAndVerifyPage(buf.data(), copy.data(), ps, 4, "db/pages.db"));
  EXPECT_EQ(copy, buf);
  for (std::size_t bit = 0; bit < 8 * ps; bit += 13) {
    buf[bit / 8] = static_cast<char>(buf[bit / 8] ^ (1 << (bit % 8)));
    std::fill(copy.begin(), copy.end(), '\0');
    const Status s = CopyAndVerifyPage(buf.data(), copy.data(), ps, 4, "db/pages.db");
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << "bit " << bit;
    EXPECT_NE(s.message().find("db/pages.db: page 4 (offset 16384)"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(copy, buf) << "bit " << bit;
    buf[bit / 8] = static_cast<char>(buf[bit / 8] ^ (1 << (bit % 8)));
  }
}

TEST(VerifyPage, CopyAndVerify_BadLayoutWithAGoodChecksum_CorruptionAsVerifyPage) {
  const std::size_t ps = 4096;
  std::string buf(ps, '\0');
  SlottedPage page(buf.data(), ps);
  page.Init(PageType::kLeaf, kNoPage);
  ASSERT_TRUE(page.Insert(0, MakeLeafCell("key", "value")));
  StoreFixed<std::uint16_t>(buf.data() + kPageHeaderSize, ps - 4);  // The slot, near the end.
  SealPage(buf.data(), ps);
  std::string copy(ps, '\0');
  const Status s = CopyAndVerifyPage(buf.data(), copy.data(), ps, 3, "f");
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.ToString(), VerifyPage(buf.data(), ps, 3, "f").ToString());
}

TEST(VerifyPage, SlotPointingOutsideThePage_Corruption_EvenWithAGoodChecksum) {
  std::string buf(1024, '\0');
  SlottedPage page(buf.data(), buf.size());
  page.Init(PageType::kLeaf, kNoPage);
  ASSERT_TRUE(page.Insert(0, MakeLeafCell("key", "value")));
  StoreFixed<std::uint16_t>(buf.data() + kPageHeaderSize, 1020);  // The slot, now near the end.
  SealPage(buf.data(), buf.size());
  EXPECT_EQ(VerifyPage(buf.data(), buf.size(), 3, "f").code(), StatusCode::kCorruption);
}

// Any change to a page, logged as a diff against the old page or as an image, rebuilds the new
// page exactly (from offset 12 on; the LSN becomes the record's).
RC_GTEST_PROP(Redo, DiffOrImage_AppliedToTheOldPage_GivesTheNewOne, ()) {
  const std::size_t ps = 1024;
  std::string before(ps, '\0');
  for (std::size_t i = 12; i < ps; ++i) {
    if (*rc::gen::inRange(0, 3) == 0) before[i] = static_cast<char>(*rc::gen::inRange(0, 256));
  }
  std::string after = before;
  const int edits = *rc::gen::inRange(0, 20);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = *rc::gen::inRange<std::size_t>(12, ps);
    const std::size_t len =
        *rc::gen::inRange<std::size_t>(1, std::min<std::size_t>(64, ps - at) + 1);
    for (std::size_t i = at; i < at + len; ++i)
      after[i] = static_cast<char>(*rc::gen::inRange(0, 256));
  }
  const bool image = *rc::gen::arbitrary<bool>();
  std::string payload;
  AppendFixed64(payload, 77);
  std::string body;
  const bool changed = image ? (AppendPageImage(body, 4, after.data(), ps), true)
                             : AppendPageDiff(body, 4, before.data(), after.data(), ps);
  RC_ASSERT(changed == (image || before.substr(12) != after.substr(12)));
  if (!changed) return;
  AppendVarint32(payload, 1);
  payload += body;
  auto record = DecodeRedoRecord(payload, ps);
  RC_ASSERT(record.has_value());
  RC_ASSERT(record->lsn == 77u);
  RC_ASSERT(record->changes.size() == 1u);
  std::string page = image ? std::string(ps, '\x5a') : before;
  RC_ASSERT(ApplyPageChange(record->changes[0], 77, page.data(), ps).ok());
  RC_ASSERT(page.substr(12) == after.substr(12));
  RC_ASSERT(PageLsn(page.data()) == 77u);
}

TEST(Redo, TruncatedOrTrailingBytes_Corruption) {
  std::string before(1024, '\0');
  std::string after = before;
  after[500] = 1;
  std::string payload;
  AppendFixed64(payload, 3);
  AppendVarint32(payload, 1);
  ASSERT_TRUE(AppendPageDiff(payload, 2, before.data(), after.data(), 1024));
  ASSERT_OK(DecodeRedoRecord(payload, 1024).status());
  for (std::size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_EQ(DecodeRedoRecord(payload.substr(0, cut), 1024).error().code(),
              StatusCode::kCorruption)
        << cut;
  }
  EXPECT_EQ(DecodeRedoRecord(payload + "x", 1024).error().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace kv::storage::btree
