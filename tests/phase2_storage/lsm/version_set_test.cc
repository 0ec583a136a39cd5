// Tests of the manifest machinery of the LSM tree: VersionEdit (phase2_storage/lsm/version_edit.h)
// and Version / VersionSet (phase2_storage/lsm/version_set.h).
//   * VersionEdit: decode(encode(e)) == e for random edits; a strict prefix of an encoding decodes
//     only where a field ends, and then to the fields before the cut; an unknown tag, a level past
//     6, a table whose smallest key sorts after its largest, a sequence over 56 bits and a
//     malformed internal key are kCorruption.
//   * Version invariants: LogAndApply refuses an edit that would overlap tables in a level >= 1,
//     name a table twice, delete a table the level does not hold or invert a key range, and then
//     neither current() nor the manifest changes. Overlapping() agrees with a brute-force scan.
//   * A model-based property: random flushes, compactions, counter changes and reopens keep the
//     VersionSet equal to a model written here; file numbers are never handed out twice; after a
//     Recover the directory holds one manifest, the one CURRENT names.
//   * Power cuts (common/fault_file_system.h): a deterministic workload of edits and reopens is cut
//     at each of its sync points, file and directory syncs alike, Recover's included; the tree must
//     reopen to exactly the acknowledged edits, plus possibly the one in flight. A second cut
//     inside that Recover must not change what it recovers.
//   * Damage: a torn tail, a flipped bit, a CURRENT that is garbage or names a missing manifest, a
//     missing table, edits that do not apply.
//   * LiveTables: a version a reader holds keeps the tables it names live until it is released.
#include "phase2_storage/lsm/version_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/check.h"
#include "common/encoding.h"
#include "common/fault_file_system.h"
#include "common/file_system.h"
#include "common/mem_file_system.h"
#include "common/testing/power_cut.h"
#include "common/testing/status_matchers.h"
#include "phase1_single_node/record_log.h"
#include "phase2_storage/lsm/internal_key.h"
#include "phase2_storage/lsm/version_edit.h"

// RC_ASSERT for a Status or Result that prints the status when it fails.
#define RC_ASSERT_OK(expr)                                              \
  do {                                                                  \
    const ::kv::Status rc_status_ = ::kv::testing::ToStatus(expr);      \
    if (!rc_status_.ok()) {                                             \
      RC_FAIL(std::string(#expr " returned ") + rc_status_.ToString()); \
    }                                                                   \
  } while (false)

namespace kv::storage::lsm {
namespace {

using ::testing::HasSubstr;

const std::string kDir = "db";

std::size_t Idx(int level) { return static_cast<std::size_t>(level); }

std::string Key(std::string_view user_key, SequenceNumber sequence) {
  return MakeInternalKey(user_key, sequence, EntryKind::kValue);
}

// The user key of an internal key, written here rather than taken from the code under test.
std::string UserKeyOf(std::string_view internal_key) {
  return std::string(internal_key.substr(0, internal_key.size() - kTrailerSize));
}

// A table holding user keys [lo, hi]. Size and entry count derive from the number, so that the
// metas of two tables differ in every numeric field.
FileMeta Table(std::uint64_t number, std::string_view lo, std::string_view hi) {
  FileMeta f;
  f.number = number;
  f.size = 4096 + number;
  f.entries = 7 * number;
  f.smallest = Key(lo, 100);
  f.largest = Key(hi, 1);
  return f;
}

// --- the model ---

// What a VersionSet holds, as plain values. Observe() reads it from a VersionSet; ApplyToModel()
// computes it independently from the header's words.
struct TreeState {
  std::array<std::vector<FileMeta>, kNumLevels> levels;
  std::uint64_t log_number = 0;
  SequenceNumber last_sequence = 0;
  std::array<std::string, kNumLevels> compact_pointers;
  friend bool operator==(const TreeState&, const TreeState&) = default;
};

std::string Describe(const TreeState& s) {
  std::string out = fmt::format("log={} last_seq={}", s.log_number, s.last_sequence);
  for (int level = 0; level < kNumLevels; ++level) {
    const auto& files = s.levels[Idx(level)];
    if (!files.empty()) out += fmt::format(" | L{}:", level);
    for (const FileMeta& f : files) {
      out += fmt::format(" {}[{:?}..{:?}]", f.number, UserKeyOf(f.smallest), UserKeyOf(f.largest));
    }
    const std::string& pointer = s.compact_pointers[Idx(level)];
    if (!pointer.empty()) out += fmt::format(" | pointer L{}={:?}", level, UserKeyOf(pointer));
  }
  return out;
}

void PrintTo(const TreeState& s, std::ostream* os) { *os << Describe(s); }

// Deletions first, then additions; level 0 newest first (by number, descending); levels >= 1 by
// key (their ranges are disjoint, so the smallest user key orders them); the counters follow the
// edit, last_sequence never moving back.
void ApplyToModel(TreeState& s, const VersionEdit& e) {
  for (const auto& [level, number] : e.deleted_files) {
    const auto removed =
        std::erase_if(s.levels[Idx(level)], [&](const FileMeta& f) { return f.number == number; });
    KV_CHECK(removed == 1, "the model was asked to delete a table its level does not hold");
  }
  for (const auto& [level, f] : e.new_files) s.levels[Idx(level)].push_back(f);
  std::ranges::sort(s.levels[0], std::greater<>{}, &FileMeta::number);
  for (int level = 1; level < kNumLevels; ++level) {
    std::ranges::sort(s.levels[Idx(level)], {},
                      [](const FileMeta& f) { return UserKeyOf(f.smallest); });
  }
  if (e.log_number) s.log_number = *e.log_number;
  if (e.last_sequence) s.last_sequence = std::max(s.last_sequence, *e.last_sequence);
  for (const auto& [level, key] : e.compact_pointers) s.compact_pointers[Idx(level)] = key;
}

TreeState Observe(const VersionSet& vs) {
  TreeState s;
  const std::shared_ptr<const Version> v = vs.current();
  for (int level = 0; level < kNumLevels; ++level) {
    for (const auto& f : v->files(level)) s.levels[Idx(level)].push_back(*f);
    s.compact_pointers[Idx(level)] = vs.compact_pointer(level);
  }
  s.log_number = vs.log_number();
  s.last_sequence = vs.last_sequence();
  return s;
}

// --- files ---

// Creates the (empty of meaning) file of table `number`, durably: contents and directory entry.
Status CreateTableFile(FileSystem& fs, std::uint64_t number) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(JoinPath(kDir, TableFileName(number))));
  KV_RETURN_IF_ERROR(file->Append("table"));
  KV_RETURN_IF_ERROR(file->Sync());
  KV_RETURN_IF_ERROR(file->Close());
  return fs.SyncDir(kDir);
}

Result<std::vector<std::string>> ManifestsIn(FileSystem& fs) {
  KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(kDir));
  std::vector<std::string> manifests;
  for (std::string& name : names) {
    if (name.starts_with("MANIFEST-")) manifests.push_back(std::move(name));
  }
  std::ranges::sort(manifests);
  return manifests;
}

// Empty if the directory holds exactly one manifest, `vs`'s, and CURRENT names it; otherwise what
// is wrong.
std::string ManifestProblem(FileSystem& fs, const VersionSet& vs) {
  const std::string expected = ManifestFileName(vs.manifest_number());
  auto manifests = ManifestsIn(fs);
  if (!manifests) return "ListDir: " + manifests.error().ToString();
  if (*manifests != std::vector<std::string>{expected}) {
    return fmt::format("the directory holds manifests [{}], expected only {}",
                       fmt::join(*manifests, ", "), expected);
  }
  auto current = ReadFileToString(fs, JoinPath(kDir, kCurrentFileName));
  if (!current) return "reading CURRENT: " + current.error().ToString();
  if (*current != expected + "\n") {
    return fmt::format("CURRENT holds {:?}, expected {:?}", *current, expected + "\n");
  }
  return "";
}

// The files of the directory, by name.
using Disk = std::map<std::string, std::string>;

Disk SnapshotDisk(FileSystem& fs) {
  auto names = fs.ListDir(kDir);
  KV_CHECK(names.has_value(), "ListDir");
  Disk disk;
  for (const std::string& name : *names) {
    auto data = ReadFileToString(fs, JoinPath(kDir, name));
    KV_CHECK(data.has_value(), "read file");
    disk[name] = std::move(*data);
  }
  return disk;
}

std::unique_ptr<FileSystem> FsWithDisk(const Disk& disk) {
  auto fs = NewMemFileSystem();
  KV_CHECK(fs->CreateDirs(kDir).ok(), "CreateDirs");
  for (const auto& [name, data] : disk) {
    auto file = fs->NewWritableFile(JoinPath(kDir, name));
    KV_CHECK(file.has_value() && (*file)->Append(data).ok() && (*file)->Close().ok(), "write");
  }
  return fs;
}

// Opens the tree in `fs` (no creation) and returns its state.
Result<TreeState> RecoverState(FileSystem& fs) {
  VersionSet vs(fs, kDir);
  KV_RETURN_IF_ERROR(vs.Recover(false));
  return Observe(vs);
}

// Whether `message` says "offset <n>" (and not, say, "offset <n>7").
bool MentionsOffset(std::string_view message, std::uint64_t offset) {
  const std::string needle = fmt::format("offset {}", offset);
  for (auto at = message.find(needle); at != std::string_view::npos;
       at = message.find(needle, at + 1)) {
    const std::size_t end = at + needle.size();
    if (end == message.size() || !std::isdigit(static_cast<unsigned char>(message[end]))) {
      return true;
    }
  }
  return false;
}

// --- generators ---

// Short user keys over a few bytes (0xff included, so that a signed comparison would misorder
// them): they collide, share edges and are prefixes of each other; "" is one of them.
rc::Gen<std::string> GenUserKey() {
  return rc::gen::mapcat(rc::gen::inRange(0, 4), [](int n) {
    return rc::gen::container<std::string>(static_cast<std::size_t>(n),
                                           rc::gen::element<char>('a', 'b', 'c', '\xff'));
  });
}

// A pair lo <= hi of user keys.
rc::Gen<std::pair<std::string, std::string>> GenUserRange() {
  return rc::gen::map(rc::gen::pair(GenUserKey(), GenUserKey()),
                      [](std::pair<std::string, std::string> r) {
                        if (r.second < r.first) std::swap(r.first, r.second);
                        return r;
                      });
}

rc::Gen<SequenceNumber> GenSequence() {
  return rc::gen::oneOf(
      rc::gen::inRange<SequenceNumber>(0, 4),
      rc::gen::inRange<SequenceNumber>(kMaxSequenceNumber - 2, kMaxSequenceNumber + 1),
      rc::gen::inRange<SequenceNumber>(0, kMaxSequenceNumber + 1));
}

struct KeyParts {
  std::string user_key;
  SequenceNumber sequence = 0;
  EntryKind kind = EntryKind::kValue;
};

rc::Gen<KeyParts> GenKeyParts() {
  return rc::gen::exec([] {
    return KeyParts{*GenUserKey(), *GenSequence(),
                    *rc::gen::element(EntryKind::kDelete, EntryKind::kValue)};
  });
}

std::string MakeKey(const KeyParts& k) { return MakeInternalKey(k.user_key, k.sequence, k.kind); }

// The documented order of internal keys: user key ascending, sequence descending, kind
// descending (std::string compares bytes as unsigned).
bool KeyPartsLess(const KeyParts& a, const KeyParts& b) {
  if (a.user_key != b.user_key) return a.user_key < b.user_key;
  if (a.sequence != b.sequence) return a.sequence > b.sequence;
  return a.kind > b.kind;
}

rc::Gen<int> GenLevel() { return rc::gen::inRange(0, kNumLevels); }

rc::Gen<FileMeta> GenFileMeta() {
  return rc::gen::exec([] {
    KeyParts a = *GenKeyParts();
    KeyParts b = *GenKeyParts();
    if (KeyPartsLess(b, a)) std::swap(a, b);
    FileMeta f;
    f.number = *rc::gen::arbitrary<std::uint64_t>();
    f.size = *rc::gen::arbitrary<std::uint64_t>();
    f.entries = *rc::gen::arbitrary<std::uint64_t>();
    f.smallest = MakeKey(a);
    f.largest = MakeKey(b);
    return f;
  });
}

template <typename T>
std::vector<T> SmallVectorOf(const rc::Gen<T>& gen) {
  const auto n = *rc::gen::inRange<std::size_t>(0, 5);
  return *rc::gen::container<std::vector<T>>(n, gen);
}

// Any edit Decode accepts: every field present or not, every level, numbers of every width.
rc::Gen<VersionEdit> GenEdit() {
  return rc::gen::exec([] {
    VersionEdit e;
    if (*rc::gen::arbitrary<bool>()) e.log_number = *rc::gen::arbitrary<std::uint64_t>();
    if (*rc::gen::arbitrary<bool>()) e.next_file_number = *rc::gen::arbitrary<std::uint64_t>();
    if (*rc::gen::arbitrary<bool>()) e.last_sequence = *GenSequence();
    e.compact_pointers =
        SmallVectorOf(rc::gen::pair(GenLevel(), rc::gen::map(GenKeyParts(), MakeKey)));
    e.deleted_files = SmallVectorOf(rc::gen::pair(GenLevel(), rc::gen::arbitrary<std::uint64_t>()));
    e.new_files = SmallVectorOf(rc::gen::pair(GenLevel(), GenFileMeta()));
    return e;
  });
}

// Splits sorted distinct user keys into consecutive runs of 1 to 3 keys: the [first, last] ranges
// of tables that share no user key. REQUIRES: called inside a property.
std::vector<std::pair<std::string, std::string>> ChopIntoRanges(const std::set<std::string>& keys) {
  std::vector<std::pair<std::string, std::string>> ranges;
  for (auto it = keys.begin(); it != keys.end();) {
    const int run = *rc::gen::inRange(1, 4);
    std::pair<std::string, std::string> range{*it, *it};
    for (int i = 0; i < run && it != keys.end(); ++i, ++it) range.second = *it;
    ranges.push_back(std::move(range));
  }
  return ranges;
}

// ===== VersionEdit =====

std::size_t FieldCount(const VersionEdit& e) {
  return (e.log_number ? 1 : 0) + (e.next_file_number ? 1 : 0) + (e.last_sequence ? 1 : 0) +
         e.compact_pointers.size() + e.deleted_files.size() + e.new_files.size();
}

// Whether every field of `part` is in `whole`: each optional absent or equal, each list a prefix.
bool IsPartOf(const VersionEdit& part, const VersionEdit& whole) {
  auto optional = [](const auto& a, const auto& b) { return !a || a == b; };
  auto prefix = [](const auto& a, const auto& b) {
    return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  return optional(part.log_number, whole.log_number) &&
         optional(part.next_file_number, whole.next_file_number) &&
         optional(part.last_sequence, whole.last_sequence) &&
         prefix(part.compact_pointers, whole.compact_pointers) &&
         prefix(part.deleted_files, whole.deleted_files) && prefix(part.new_files, whole.new_files);
}

std::string EncodeEdit(const VersionEdit& e) {
  std::string bytes;
  e.Encode(bytes);
  return bytes;
}

RC_GTEST_PROP(VersionEdit, RandomEdits_DecodeOfEncodeIsTheSameEdit, ()) {
  const VersionEdit e = *GenEdit();
  const std::string bytes = EncodeEdit(e);
  const auto decoded = VersionEdit::Decode(bytes);
  RC_ASSERT_OK(decoded);
  if (!(*decoded == e)) {
    RC_FAIL("decoded " + decoded->DebugString() + ", encoded " + e.DebugString());
  }
  // Encode appends: what the destination held stays in front.
  std::string dst = "held";
  e.Encode(dst);
  RC_ASSERT(dst == "held" + bytes);
}

RC_GTEST_PROP(VersionEdit, EveryStrictPrefix_DecodesOnlyWhereAFieldEnds_ToTheFieldsBeforeIt, ()) {
  const VersionEdit e = *GenEdit();
  const std::string bytes = EncodeEdit(e);
  std::size_t decodable = 0;
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    const auto d = VersionEdit::Decode(std::string_view(bytes).substr(0, cut));
    if (!d) {
      RC_ASSERT(d.error().code() == StatusCode::kCorruption);
      continue;
    }
    ++decodable;
    // A different edit: some of the fields, in order, ending exactly at the cut.
    RC_ASSERT(IsPartOf(*d, e));
    RC_ASSERT(FieldCount(*d) < FieldCount(e));
    RC_ASSERT(EncodeEdit(*d) == bytes.substr(0, cut));
  }
  // The cuts that decode are the field boundaries: before the first field and after each of the
  // others but the last. Every cut inside a field is refused.
  RC_ASSERT(decodable == FieldCount(e));
}

// The tag of a one-field edit: the first varint of its encoding (none if it encodes to nothing).
std::optional<std::uint32_t> TagOf(const VersionEdit& one_field) {
  const std::string bytes = EncodeEdit(one_field);
  Decoder d(bytes);
  auto tag = d.ReadVarint32();
  if (!tag) return std::nullopt;
  return *tag;
}

TEST(VersionEdit, UnknownFieldTag_IsCorruption) {
  std::vector<VersionEdit> one_field_each(6);
  one_field_each[0].log_number = 1;
  one_field_each[1].next_file_number = 1;
  one_field_each[2].last_sequence = 1;
  one_field_each[3].compact_pointers = {{1, Key("k", 1)}};
  one_field_each[4].deleted_files = {{1, 5}};
  one_field_each[5].new_files = {{1, Table(5, "a", "b")}};
  std::set<std::uint32_t> tags;
  for (const VersionEdit& e : one_field_each) {
    const std::optional<std::uint32_t> tag = TagOf(e);
    ASSERT_TRUE(tag.has_value()) << e.DebugString() << " encodes to nothing";
    tags.insert(*tag);
  }
  ASSERT_EQ(tags.size(), 6u) << "each field has a tag of its own";
  VersionEdit valid;
  valid.log_number = 9;
  for (std::uint32_t tag : {0u, *tags.rbegin() + 1, 127u, 128u, 1u << 20}) {
    if (tags.contains(tag)) continue;
    SCOPED_TRACE(fmt::format("tag {}", tag));
    std::string bytes = EncodeEdit(valid);
    AppendVarint32(bytes, tag);
    AppendVarint64(bytes, 1);
    const auto d = VersionEdit::Decode(bytes);
    ASSERT_FALSE(d.has_value()) << d->DebugString();
    EXPECT_EQ(d.error().code(), StatusCode::kCorruption) << d.error().ToString();
    EXPECT_THAT(d.error().message(), HasSubstr(std::to_string(tag)));
  }
}

TEST(VersionEdit, LevelPastSix_IsCorruption_InEveryFieldThatNamesALevel) {
  for (int level : {6, 7, 200}) {
    SCOPED_TRACE(fmt::format("level {}", level));
    const StatusCode expected = level < kNumLevels ? StatusCode::kOk : StatusCode::kCorruption;
    VersionEdit pointer;
    pointer.compact_pointers = {{level, Key("k", 3)}};
    VersionEdit deleted;
    deleted.deleted_files = {{level, 12}};
    VersionEdit added;
    added.new_files = {{level, Table(12, "a", "b")}};
    for (const VersionEdit* e : {&pointer, &deleted, &added}) {
      EXPECT_STATUS(VersionEdit::Decode(EncodeEdit(*e)), expected);
    }
  }
}

TEST(VersionEdit, TableWithSmallestKeyAfterLargest_IsCorruption_EqualKeysAccepted) {
  FileMeta inverted = Table(4, "b", "a");
  FileMeta older_first = Table(5, "k", "k");
  older_first.smallest = Key("k", 1);  // Sequence 1 sorts after sequence 9 for the same user key.
  older_first.largest = Key("k", 9);
  FileMeta one_key = Table(6, "k", "k");
  one_key.largest = one_key.smallest;
  for (const FileMeta& f : {inverted, older_first, one_key}) {
    SCOPED_TRACE(fmt::format("table {}", f.number));
    VersionEdit e;
    e.new_files = {{2, f}};
    const auto d = VersionEdit::Decode(EncodeEdit(e));
    if (f.number == one_key.number) {
      ASSERT_OK(d);
      EXPECT_EQ(*d, e);
    } else {
      EXPECT_STATUS(d, StatusCode::kCorruption);
    }
  }
}

TEST(VersionEdit, LastSequenceOver56Bits_IsCorruption_56BitsAccepted) {
  VersionEdit e;
  e.last_sequence = kMaxSequenceNumber;
  ASSERT_OK_AND_ASSIGN(const VersionEdit max, VersionEdit::Decode(EncodeEdit(e)));
  EXPECT_EQ(max.last_sequence, kMaxSequenceNumber);
  for (SequenceNumber s : {kMaxSequenceNumber + 1, ~SequenceNumber{0}}) {
    e.last_sequence = s;
    EXPECT_STATUS(VersionEdit::Decode(EncodeEdit(e)), StatusCode::kCorruption);
  }
}

TEST(VersionEdit, MalformedInternalKey_IsCorruption) {
  std::string unknown_kind = Key("k", 7);
  unknown_kind[unknown_kind.size() - kTrailerSize] = '\x02';  // The kind byte: 2 is no kind.
  for (const std::string& bad : {std::string("short"), std::string(), unknown_kind}) {
    SCOPED_TRACE(fmt::format("key {:?}", bad));
    VersionEdit pointer;
    pointer.compact_pointers = {{0, bad}};
    EXPECT_STATUS(VersionEdit::Decode(EncodeEdit(pointer)), StatusCode::kCorruption);
    VersionEdit smallest;
    smallest.new_files = {{0, Table(3, "a", "b")}};
    smallest.new_files[0].second.smallest = bad;
    EXPECT_STATUS(VersionEdit::Decode(EncodeEdit(smallest)), StatusCode::kCorruption);
    VersionEdit largest;
    largest.new_files = {{0, Table(3, "a", "b")}};
    largest.new_files[0].second.largest = bad;
    EXPECT_STATUS(VersionEdit::Decode(EncodeEdit(largest)), StatusCode::kCorruption);
  }
}

// ===== Version invariants, through LogAndApply =====

class VersionSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(fs_->CreateDirs(kDir));
    Open(true);
  }

  // A new VersionSet on the same directory, as after a restart.
  void Open(bool create_if_missing) {
    vs_.reset();
    vs_ = std::make_unique<VersionSet>(*fs_, kDir);
    ASSERT_OK(vs_->Recover(create_if_missing));
  }

  // A table with a fresh number, whose file exists.
  FileMeta NewTable(std::string_view lo, std::string_view hi) {
    FileMeta f = Table(vs_->NewFileNumber(), lo, hi);
    KV_CHECK(CreateTableFile(*fs_, f.number).ok(), "create table file");
    return f;
  }

  Status Add(int level, const FileMeta& f) {
    VersionEdit e;
    e.new_files = {{level, f}};
    return vs_->LogAndApply(std::move(e));
  }

  // `edit` is refused with kInvalidArgument, and neither the current version nor, as a reopen
  // shows, the manifest changes.
  void ExpectRefused(const VersionEdit& edit) {
    SCOPED_TRACE("edit " + edit.DebugString());
    const std::shared_ptr<const Version> before = vs_->current();
    const TreeState state = Observe(*vs_);
    const Status s = vs_->LogAndApply(edit);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_EQ(vs_->current(), before) << "a refused edit replaced the current version";
    Open(false);
    if (HasFatalFailure()) return;
    EXPECT_EQ(Observe(*vs_), state) << "a refused edit reached the manifest";
  }

  std::vector<std::uint64_t> Numbers(int level) const {
    std::vector<std::uint64_t> numbers;
    for (const auto& f : vs_->current()->files(level)) numbers.push_back(f->number);
    return numbers;
  }

  std::unique_ptr<FileSystem> fs_ = NewMemFileSystem();
  std::unique_ptr<VersionSet> vs_;
};

TEST_F(VersionSetTest, OverlappingTablesInLevelOne_Refused_NothingChanges) {
  const FileMeta b_to_d = NewTable("b", "d");
  ASSERT_OK(Add(1, b_to_d));
  // Disjoint from [b@100, d@1] as internal keys (b@200 sorts first), but it shares user key b.
  FileMeta shares_edge = NewTable("a", "b");
  shares_edge.largest = Key("b", 200);
  for (const FileMeta& f : {NewTable("c", "e"), NewTable("a", "z"), NewTable("c", "c"),
                            NewTable("d", "f"), NewTable("a", "b"), shares_edge}) {
    VersionEdit e;
    e.new_files = {{1, f}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
    if (HasFatalFailure()) return;
  }
  // Two new tables of one edit that overlap each other, in a level that was empty.
  VersionEdit pair;
  pair.new_files = {{3, NewTable("m", "p")}, {3, NewTable("o", "q")}};
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(pair));

  // Neighbours that share no user key are accepted, and so is an edit that replaces [b, d] by
  // tables overlapping it (a compaction's output).
  const FileMeta a = NewTable("a", "a");
  const FileMeta e_to_f = NewTable("e", "f");
  ASSERT_OK(Add(1, e_to_f));
  ASSERT_OK(Add(1, a));
  VersionEdit replace;
  replace.deleted_files = {{1, b_to_d.number}};
  const FileMeta b_to_bz = NewTable("b", "bz");
  const FileMeta c_to_d = NewTable("c", "d");
  replace.new_files = {{1, c_to_d}, {1, b_to_bz}};
  ASSERT_OK(vs_->LogAndApply(replace));
  EXPECT_OK(vs_->current()->CheckInvariants());
  const std::vector<std::uint64_t> by_key = {a.number, b_to_bz.number, c_to_d.number,
                                             e_to_f.number};
  EXPECT_EQ(Numbers(1), by_key);
  ASSERT_NO_FATAL_FAILURE(Open(false));
  EXPECT_EQ(Numbers(1), by_key);
}

TEST_F(VersionSetTest, TableNumberNamedTwice_Refused_NothingChanges) {
  const FileMeta t = NewTable("a", "c");
  ASSERT_OK(Add(0, t));
  {
    VersionEdit e;  // The same number in another level, with another range.
    e.new_files = {{3, Table(t.number, "x", "y")}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
  {
    VersionEdit e;  // The very same table again.
    e.new_files = {{0, t}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
  {
    const FileMeta u = NewTable("a", "b");
    VersionEdit e;  // One new number given to two tables of one edit.
    e.new_files = {{2, u}, {4, Table(u.number, "c", "d")}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
}

TEST_F(VersionSetTest, DeletingATableTheLevelDoesNotHold_Refused_NothingChanges) {
  const FileMeta t = NewTable("a", "c");
  const FileMeta u = NewTable("m", "p");
  ASSERT_OK(Add(0, t));
  ASSERT_OK(Add(1, u));
  {
    VersionEdit e;  // A number nobody holds.
    e.deleted_files = {{0, 999}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
  {
    VersionEdit e;  // A table that exists, in another level.
    e.deleted_files = {{1, t.number}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
  {
    VersionEdit e;  // The same table twice.
    e.deleted_files = {{0, t.number}, {0, t.number}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
  {
    VersionEdit e;  // One good deletion and one bad: nothing may be half applied.
    e.deleted_files = {{1, u.number}, {2, u.number}};
    e.new_files = {{2, NewTable("x", "y")}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
}

TEST_F(VersionSetTest, TableWithSmallestKeyAfterLargest_Refused_NothingChanges) {
  for (int level : {0, 2}) {
    VersionEdit e;
    e.new_files = {{level, NewTable("m", "c")}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
    FileMeta older_first = NewTable("k", "k");
    older_first.smallest = Key("k", 1);
    older_first.largest = Key("k", 9);
    e.new_files = {{level, older_first}};
    ASSERT_NO_FATAL_FAILURE(ExpectRefused(e));
  }
}

TEST_F(VersionSetTest, LevelZero_OverlappingTablesAccepted_ListedNewestFirstByNumber) {
  const FileMeta oldest = NewTable("a", "z");
  const FileMeta middle = NewTable("c", "d");
  const FileMeta newest = NewTable("a", "d");
  ASSERT_OK(Add(0, newest));
  ASSERT_OK(Add(0, oldest));
  ASSERT_OK(Add(0, middle));
  const std::vector<std::uint64_t> newest_first = {newest.number, middle.number, oldest.number};
  EXPECT_EQ(Numbers(0), newest_first);
  EXPECT_OK(vs_->current()->CheckInvariants());
  ASSERT_NO_FATAL_FAILURE(Open(false));
  EXPECT_EQ(Numbers(0), newest_first);
}

RC_GTEST_PROP(Version, Overlapping_EqualsBruteForceScan_LevelZeroOverlapping_LevelOneDisjoint, ()) {
  auto fs = NewMemFileSystem();
  RC_ASSERT_OK(fs->CreateDirs(kDir));
  VersionSet vs(*fs, kDir);
  RC_ASSERT_OK(vs.Recover(true));
  VersionEdit edit;
  const int level_zero = *rc::gen::inRange(0, 8);
  for (int i = 0; i < level_zero; ++i) {
    const auto [lo, hi] = *GenUserRange();
    edit.new_files.emplace_back(0, Table(vs.NewFileNumber(), lo, hi));
  }
  for (const auto& [lo, hi] :
       ChopIntoRanges(*rc::gen::container<std::set<std::string>>(GenUserKey()))) {
    edit.new_files.emplace_back(1, Table(vs.NewFileNumber(), lo, hi));
  }
  RC_ASSERT_OK(vs.LogAndApply(edit));
  TreeState model;
  ApplyToModel(model, edit);
  const std::shared_ptr<const Version> v = vs.current();
  RC_ASSERT_OK(v->CheckInvariants());
  for (int query = 0; query < 12; ++query) {
    const auto [lo, hi] = *GenUserRange();
    for (int level = 0; level <= 2; ++level) {
      std::vector<std::uint64_t> expected;
      for (const FileMeta& f : model.levels[Idx(level)]) {
        if (!(UserKeyOf(f.largest) < lo) && !(hi < UserKeyOf(f.smallest))) {
          expected.push_back(f.number);
        }
      }
      std::vector<std::uint64_t> got;
      for (const auto& f : v->Overlapping(level, lo, hi)) got.push_back(f->number);
      if (got != expected) {
        RC_FAIL(fmt::format("L{} tables overlapping [{:?}, {:?}]: got [{}], expected [{}] in {}",
                            level, lo, hi, fmt::join(got, ","), fmt::join(expected, ","),
                            Describe(model)));
      }
    }
  }
}

// ===== The model-based property =====

// Random flushes into L0, compactions from a level into the next (some of its tables, plus the
// tables of the next level they overlap, grown to a fixed point, replaced by disjoint tables in
// the combined range; or a trivial move), log number and compact pointer edits, SetLastSequence,
// and reopens. After every step the VersionSet equals the model.
RC_GTEST_PROP(VersionSet, RandomEditsAndReopens_StateMatchesModel_CountersNeverGoBack, ()) {
  auto fs = NewMemFileSystem();
  RC_ASSERT_OK(fs->CreateDirs(kDir));
  auto vs = std::make_unique<VersionSet>(*fs, kDir);
  RC_ASSERT_OK(vs->Recover(true));
  RC_ASSERT(ManifestProblem(*fs, *vs).empty());
  TreeState model;
  // What the manifest holds of last_sequence: SetLastSequence alone is not logged, so a reopen
  // may go back to this value (the write-ahead log, not the manifest, restores the rest).
  SequenceNumber logged_last_sequence = 0;
  std::uint64_t highest_number = vs->manifest_number();  // Every number handed out so far.
  std::uint64_t manifest_number = vs->manifest_number();

  auto new_table = [&](std::string_view lo, std::string_view hi) {
    const std::uint64_t number = vs->NewFileNumber();
    RC_ASSERT(number > highest_number);
    highest_number = number;
    RC_ASSERT_OK(CreateTableFile(*fs, number));
    return Table(number, lo, hi);
  };
  auto log = [&](const VersionEdit& edit) {
    const Status s = vs->LogAndApply(edit);
    if (!s.ok()) RC_FAIL("LogAndApply(" + edit.DebugString() + ") returned " + s.ToString());
    ApplyToModel(model, edit);
    logged_last_sequence = model.last_sequence;
  };

  enum class Op { kFlush, kCompact, kLogNumber, kSetLastSequence, kCompactPointer, kReopen };
  const int steps = *rc::gen::inRange(1, 40);
  for (int step = 0; step < steps; ++step) {
    const Op op = *rc::gen::weightedElement<Op>({{4, Op::kFlush},
                                                 {4, Op::kCompact},
                                                 {1, Op::kLogNumber},
                                                 {1, Op::kSetLastSequence},
                                                 {1, Op::kCompactPointer},
                                                 {2, Op::kReopen}});
    switch (op) {
      case Op::kFlush: {
        VersionEdit e;
        const int tables = *rc::gen::inRange(1, 3);
        for (int i = 0; i < tables; ++i) {
          const auto [lo, hi] = *GenUserRange();
          e.new_files.emplace_back(0, new_table(lo, hi));
        }
        if (*rc::gen::arbitrary<bool>()) {
          e.log_number = model.log_number + *rc::gen::inRange<std::uint64_t>(0, 5);
        }
        if (*rc::gen::arbitrary<bool>()) {
          e.last_sequence = model.last_sequence + *rc::gen::inRange<SequenceNumber>(0, 100);
        }
        log(e);
        break;
      }
      case Op::kCompact: {
        std::vector<int> levels;
        for (int level = 0; level + 1 < kNumLevels; ++level) {
          if (!model.levels[Idx(level)].empty()) levels.push_back(level);
        }
        if (levels.empty()) break;
        const int level = *rc::gen::elementOf(levels);
        const std::vector<FileMeta> from = model.levels[Idx(level)];
        const std::vector<FileMeta> to = model.levels[Idx(level + 1)];
        std::vector<FileMeta> inputs;
        const auto picked =
            *rc::gen::container<std::vector<bool>>(from.size(), rc::gen::arbitrary<bool>());
        for (std::size_t i = 0; i < from.size(); ++i) {
          if (picked[i]) inputs.push_back(from[i]);
        }
        if (inputs.empty()) inputs.push_back(from[*rc::gen::inRange<std::size_t>(0, from.size())]);
        std::string lo = UserKeyOf(inputs[0].smallest);
        std::string hi = UserKeyOf(inputs[0].largest);
        for (const FileMeta& f : inputs) {
          lo = std::min(lo, UserKeyOf(f.smallest));
          hi = std::max(hi, UserKeyOf(f.largest));
        }
        std::vector<bool> overlapped(to.size(), false);
        for (bool grew = true; grew;) {
          grew = false;
          for (std::size_t i = 0; i < to.size(); ++i) {
            if (overlapped[i] || UserKeyOf(to[i].largest) < lo || hi < UserKeyOf(to[i].smallest)) {
              continue;
            }
            overlapped[i] = true;
            grew = true;
            lo = std::min(lo, UserKeyOf(to[i].smallest));
            hi = std::max(hi, UserKeyOf(to[i].largest));
          }
        }
        VersionEdit e;
        for (const FileMeta& f : inputs) e.deleted_files.emplace_back(level, f.number);
        for (std::size_t i = 0; i < to.size(); ++i) {
          if (overlapped[i]) e.deleted_files.emplace_back(level + 1, to[i].number);
        }
        const bool nothing_below = std::ranges::none_of(overlapped, std::identity{});
        if (inputs.size() == 1 && nothing_below && *rc::gen::arbitrary<bool>()) {
          e.new_files.emplace_back(level + 1, inputs[0]);  // A trivial move: same table, one down.
        } else if (*rc::gen::inRange(0, 5) != 0) {         // Else every key was deleted: no output.
          std::set<std::string> keys = {lo, hi};
          for (const std::string& k : *rc::gen::container<std::vector<std::string>>(GenUserKey())) {
            if (lo <= k && k <= hi) keys.insert(k);
          }
          for (const auto& [first, last] : ChopIntoRanges(keys)) {
            e.new_files.emplace_back(level + 1, new_table(first, last));
          }
        }
        if (*rc::gen::arbitrary<bool>()) e.compact_pointers.emplace_back(level, inputs[0].largest);
        log(e);
        break;
      }
      case Op::kLogNumber: {
        VersionEdit e;
        e.log_number = model.log_number + *rc::gen::inRange<std::uint64_t>(0, 10);
        log(e);
        break;
      }
      case Op::kSetLastSequence: {
        const SequenceNumber s = model.last_sequence + *rc::gen::inRange<SequenceNumber>(0, 1000);
        vs->SetLastSequence(s);
        model.last_sequence = s;
        break;
      }
      case Op::kCompactPointer: {
        VersionEdit e;
        e.compact_pointers = {{*GenLevel(), Key(*GenUserKey(), *GenSequence())}};
        log(e);
        break;
      }
      case Op::kReopen: {
        vs.reset();
        vs = std::make_unique<VersionSet>(*fs, kDir);
        RC_ASSERT_OK(vs->Recover(false));
        model.last_sequence = logged_last_sequence;
        RC_ASSERT(vs->manifest_number() > highest_number);
        highest_number = manifest_number = vs->manifest_number();
        const std::string problem = ManifestProblem(*fs, *vs);
        if (!problem.empty()) RC_FAIL("after reopen: " + problem);
        break;
      }
    }
    const TreeState seen = Observe(*vs);
    if (seen != model) {
      RC_FAIL(fmt::format("after step {}: the VersionSet holds\n  {}\nthe model\n  {}", step,
                          Describe(seen), Describe(model)));
    }
    RC_ASSERT_OK(vs->current()->CheckInvariants());
    RC_ASSERT(vs->manifest_number() == manifest_number);
  }
  // Whatever the last step was, the manifest gives it all back.
  vs.reset();
  VersionSet reopened(*fs, kDir);
  RC_ASSERT_OK(reopened.Recover(false));
  model.last_sequence = logged_last_sequence;
  const TreeState seen = Observe(reopened);
  if (seen != model) {
    RC_FAIL(fmt::format("after the final reopen: the VersionSet holds\n  {}\nthe model\n  {}",
                        Describe(seen), Describe(model)));
  }
  RC_ASSERT(reopened.NewFileNumber() > highest_number);
}

// ===== Power cuts =====

// What one run of the workload saw, up to its first failure.
struct WorkloadRun {
  bool created = false;                // Recover(true) returned OK.
  std::vector<TreeState> states;       // states[k]: the model after k acknowledged edits.
  std::optional<TreeState> in_flight;  // What the LogAndApply that failed would have made.
  Status failure;
};

// Flushes (each retiring a log), compactions L0 -> L1 and L0 + L1 -> L1, a trivial move L1 -> L2,
// counter-only edits, SetLastSequence, and a reopen after every few edits. Deterministic, so that
// every run reaches the same sync points in the same order.
Status RunWorkloadSteps(FileSystem& fs, WorkloadRun& run) {
  TreeState model;
  run.states.push_back(model);
  auto vs = std::make_unique<VersionSet>(fs, kDir);
  KV_RETURN_IF_ERROR(vs->Recover(true));
  run.created = true;
  auto table = [&](std::string_view lo, std::string_view hi) -> Result<FileMeta> {
    FileMeta f = Table(vs->NewFileNumber(), lo, hi);
    KV_RETURN_IF_ERROR(CreateTableFile(fs, f.number));
    return f;
  };
  auto log = [&](const VersionEdit& edit) -> Status {
    TreeState next = model;
    ApplyToModel(next, edit);
    run.in_flight = next;
    KV_RETURN_IF_ERROR(vs->LogAndApply(edit));
    run.in_flight.reset();
    model = std::move(next);
    run.states.push_back(model);
    return Status::Ok();
  };
  auto reopen = [&]() -> Status {
    vs.reset();
    vs = std::make_unique<VersionSet>(fs, kDir);
    return vs->Recover(false);
  };

  KV_ASSIGN_OR_RETURN(const FileMeta a, table("a", "m"));
  VersionEdit flush1;
  flush1.new_files = {{0, a}};
  flush1.log_number = vs->NewFileNumber();
  KV_RETURN_IF_ERROR(log(flush1));

  KV_ASSIGN_OR_RETURN(const FileMeta b, table("c", "z"));
  vs->SetLastSequence(100);
  model.last_sequence = 100;
  VersionEdit flush2;
  flush2.new_files = {{0, b}};
  flush2.log_number = vs->NewFileNumber();
  KV_RETURN_IF_ERROR(log(flush2));

  KV_ASSIGN_OR_RETURN(const FileMeta c, table("a", "f"));
  KV_ASSIGN_OR_RETURN(const FileMeta d, table("g", "z"));
  VersionEdit l0_to_l1;
  l0_to_l1.deleted_files = {{0, a.number}, {0, b.number}};
  l0_to_l1.new_files = {{1, c}, {1, d}};
  l0_to_l1.compact_pointers = {{0, b.largest}};
  KV_RETURN_IF_ERROR(log(l0_to_l1));

  KV_RETURN_IF_ERROR(reopen());

  KV_ASSIGN_OR_RETURN(const FileMeta e, table("b", "d"));
  VersionEdit flush3;
  flush3.new_files = {{0, e}};
  flush3.last_sequence = 250;
  flush3.log_number = vs->NewFileNumber();
  KV_RETURN_IF_ERROR(log(flush3));

  KV_ASSIGN_OR_RETURN(const FileMeta f, table("a", "c"));
  KV_ASSIGN_OR_RETURN(const FileMeta g, table("d", "f"));
  VersionEdit l0_l1_to_l1;
  l0_l1_to_l1.deleted_files = {{0, e.number}, {1, c.number}};
  l0_l1_to_l1.new_files = {{1, f}, {1, g}};
  KV_RETURN_IF_ERROR(log(l0_l1_to_l1));

  VersionEdit move;
  move.deleted_files = {{1, d.number}};
  move.new_files = {{2, d}};
  move.compact_pointers = {{1, d.largest}};
  KV_RETURN_IF_ERROR(log(move));

  VersionEdit counters;
  counters.log_number = vs->NewFileNumber();
  counters.last_sequence = 300;
  KV_RETURN_IF_ERROR(log(counters));

  KV_RETURN_IF_ERROR(reopen());

  KV_ASSIGN_OR_RETURN(const FileMeta h, table("k", "p"));
  KV_ASSIGN_OR_RETURN(const FileMeta i, table("n", "q"));
  vs->SetLastSequence(400);
  model.last_sequence = 400;
  VersionEdit flush4;
  flush4.new_files = {{0, h}, {0, i}};
  KV_RETURN_IF_ERROR(log(flush4));

  return reopen();
}

constexpr std::size_t kWorkloadEdits = 8;

WorkloadRun RunWorkload(FileSystem& fs) {
  WorkloadRun run;
  run.failure = RunWorkloadSteps(fs, run);
  return run;
}

using Mode = kv::testing::PowerCutMode;

std::vector<Mode> Modes() { return kv::testing::PowerCutModes(12); }

class VersionSetPowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One clean run counts the sync points (file and directory syncs) of the workload.
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs(kDir));
    const WorkloadRun run = RunWorkload(fs);
    ASSERT_OK(run.failure);
    ASSERT_EQ(run.states.size(), kWorkloadEdits + 1);
    sync_points_ = fs.sync_count();
    ASSERT_OK_AND_ASSIGN(const TreeState final_state, RecoverState(fs));
    ASSERT_EQ(final_state, run.states.back());
  }

  // Runs the workload with the power failing at its n-th sync, then cuts the power.
  static WorkloadRun CrashRun(FaultInjectionFileSystem& fs, std::uint64_t n, const Mode& mode) {
    KV_CHECK(fs.CreateDirs(kDir).ok(), "CreateDirs");
    fs.CrashAtSync(n);
    WorkloadRun run = RunWorkload(fs);
    KV_CHECK(fs.PowerCut(mode.unsynced, mode.seed).ok(), "power cut");
    return run;
  }

  // Opens the tree after the power cut and checks it against what the run acknowledged; then
  // checks that it takes a new edit which survives a clean reopen.
  void CheckRecovered(FileSystem& fs, const WorkloadRun& run) {
    auto vs = std::make_unique<VersionSet>(fs, kDir);
    const Status s = vs->Recover(false);
    if (!run.created) {
      // CURRENT is the commit point of creating the tree; the cut came before it was durable.
      ++not_created_;
      ASSERT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
      vs = std::make_unique<VersionSet>(fs, kDir);
      ASSERT_OK(vs->Recover(true));
      ASSERT_EQ(Observe(*vs), run.states[0]);
      return;
    }
    ASSERT_OK(s);
    const TreeState got = Observe(*vs);
    const bool acknowledged = got == run.states.back();
    const bool in_flight = run.in_flight.has_value() && got == *run.in_flight;
    ASSERT_TRUE(acknowledged || in_flight)
        << "recovered\n  " << Describe(got) << "\nafter the acknowledged edits\n  "
        << Describe(run.states.back())
        << (run.in_flight ? "\nwith the edit in flight\n  " + Describe(*run.in_flight) : "");
    in_flight_survived_ += in_flight ? 1 : 0;
    ASSERT_OK(vs->current()->CheckInvariants());
    EXPECT_EQ(ManifestProblem(fs, *vs), "");

    // No number the manifest named (tables, logs, the manifest itself) is handed out again.
    std::uint64_t highest = vs->manifest_number();
    std::vector<TreeState> named = run.states;
    if (in_flight) named.push_back(*run.in_flight);
    for (const TreeState& state : named) {
      highest = std::max(highest, state.log_number);
      for (const auto& files : state.levels) {
        for (const FileMeta& f : files) highest = std::max(highest, f.number);
      }
    }
    const std::uint64_t next = vs->NewFileNumber();
    EXPECT_GT(next, highest) << "a recovered VersionSet hands out a number already used";

    ASSERT_OK(CreateTableFile(fs, next));
    VersionEdit after;
    after.new_files = {{0, Table(next, "after", "crash")}};
    ASSERT_OK(vs->LogAndApply(after));
    TreeState expected = got;
    ApplyToModel(expected, after);
    vs.reset();
    ASSERT_OK_AND_ASSIGN(const TreeState again, RecoverState(fs));
    ASSERT_EQ(again, expected);
  }

  std::uint64_t sync_points_ = 0;
  int not_created_ = 0;
  int in_flight_survived_ = 0;
};

TEST_F(VersionSetPowerCutTest, CrashAtEverySyncPoint_RecoversExactlyTheAcknowledgedEdits) {
  RecordProperty("sync_points", static_cast<int>(sync_points_));
  // At least: each edit's manifest sync, each table's file and directory sync, and the syncs of
  // three Recovers (manifest, directory, CURRENT.tmp, directory).
  ASSERT_GE(sync_points_, kWorkloadEdits + 2 * 9 + 3 * 4);
  for (const Mode& mode : Modes()) {
    for (std::uint64_t n = 1; n <= sync_points_ + 1; ++n) {
      SCOPED_TRACE(fmt::format("{}, power fails at sync {} of {}", mode.name, n, sync_points_));
      auto mem = NewMemFileSystem();
      FaultInjectionFileSystem fs(*mem);
      const WorkloadRun run = CrashRun(fs, n, mode);
      // Deterministic: every sync point up to the last is reached, and the cut fails it.
      ASSERT_EQ(run.failure.ok(), n > sync_points_) << run.failure.ToString();
      if (!run.failure.ok()) {
        ASSERT_EQ(run.failure.code(), StatusCode::kIOError) << run.failure.ToString();
      }
      CheckRecovered(fs, run);
      if (HasFatalFailure()) return;
    }
  }
  RecordProperty("cuts_before_the_tree_existed", not_created_);
  RecordProperty("in_flight_edit_survived", in_flight_survived_);
  // The enumeration reached the moments it is for.
  EXPECT_GT(not_created_, 0) << "no cut inside the first Recover";
}

TEST_F(VersionSetPowerCutTest, CrashInsideRecoverAtEverySyncPoint_RecoversWhatACleanRecoverDoes) {
  int disks = 0;
  int recover_sync_points = 0;
  for (const Mode& mode : Modes()) {
    for (std::uint64_t n = 1; n <= sync_points_; ++n) {
      Disk disk;
      {
        auto mem = NewMemFileSystem();
        FaultInjectionFileSystem fs(*mem);
        if (!CrashRun(fs, n, mode).created) continue;
        disk = SnapshotDisk(*mem);
      }
      ++disks;
      SCOPED_TRACE(fmt::format("{}, disk after a cut at sync {}", mode.name, n));
      TreeState clean;
      std::uint64_t syncs = 0;
      {
        auto base = FsWithDisk(disk);
        FaultInjectionFileSystem fs(*base);
        ASSERT_OK_AND_ASSIGN(clean, RecoverState(fs));
        syncs = fs.sync_count();
      }
      ASSERT_GE(syncs, 2u) << "Recover syncs its new manifest and CURRENT";
      recover_sync_points += static_cast<int>(syncs);
      for (std::uint64_t m = 1; m <= syncs; ++m) {
        SCOPED_TRACE(fmt::format("second cut at sync {} of {} inside Recover", m, syncs));
        auto base = FsWithDisk(disk);
        FaultInjectionFileSystem fs(*base);
        fs.CrashAtSync(m);
        {
          VersionSet vs(fs, kDir);
          const Status s = vs.Recover(false);
          ASSERT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
        }
        ASSERT_OK(fs.PowerCut(mode.unsynced, mode.seed + m));
        ASSERT_OK_AND_ASSIGN(const TreeState got, RecoverState(fs));
        ASSERT_EQ(got, clean);
      }
    }
  }
  RecordProperty("disks_recovered", disks);
  RecordProperty("recover_sync_points", recover_sync_points);
}

// Recover replaces CURRENT and then removes the old manifest without syncing the directory, so a
// power cut can bring the old manifest back. The next Recover must leave only its own.
TEST(VersionSetStaleManifest, PowerCutAfterReopen_OldManifestBack_NextRecoverLeavesOnlyItsOwn) {
  auto mem = NewMemFileSystem();
  FaultInjectionFileSystem fs(*mem);
  ASSERT_OK(fs.CreateDirs(kDir));
  {
    VersionSet vs(fs, kDir);
    ASSERT_OK(vs.Recover(true));
  }
  {
    VersionSet vs(fs, kDir);
    ASSERT_OK(vs.Recover(false));
    ASSERT_EQ(ManifestProblem(fs, vs), "");
  }
  ASSERT_OK(fs.PowerCut());
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> after_cut, ManifestsIn(fs));
  SCOPED_TRACE(fmt::format("manifests after the power cut: [{}]", fmt::join(after_cut, ", ")));
  VersionSet vs(fs, kDir);
  ASSERT_OK(vs.Recover(false));
  EXPECT_EQ(ManifestProblem(fs, vs), "");
}

// ===== I/O errors and edits the manifest could not give back =====

TEST(VersionSetIoError, ManifestAppendOrSyncFails_NothingInstalled_LaterEditsRefused) {
  for (FaultOp op : {FaultOp::kWrite, FaultOp::kSync}) {
    SCOPED_TRACE(op == FaultOp::kWrite ? "the append fails" : "the sync fails");
    auto mem = NewMemFileSystem();
    FaultInjectionFileSystem fs(*mem);
    ASSERT_OK(fs.CreateDirs(kDir));
    auto vs = std::make_unique<VersionSet>(fs, kDir);
    ASSERT_OK(vs->Recover(true));
    auto add = [&](std::string_view lo, std::string_view hi) {
      VersionEdit e;
      e.new_files = {{0, Table(vs->NewFileNumber(), lo, hi)}};
      KV_CHECK(CreateTableFile(fs, e.new_files[0].second.number).ok(), "create table file");
      return e;
    };
    ASSERT_OK(vs->LogAndApply(add("a", "c")));
    const std::shared_ptr<const Version> before = vs->current();
    const TreeState state_before = Observe(*vs);
    const std::vector<std::uint64_t> live_before = vs->LiveTables();

    VersionEdit failing = add("d", "f");
    failing.last_sequence = 50;
    fs.FailNth(op, 1, Status::IOError("injected"));
    const Status s = vs->LogAndApply(failing);
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
    EXPECT_EQ(vs->current(), before) << "installed an edit the manifest may not hold";
    EXPECT_EQ(Observe(*vs), state_before);
    EXPECT_EQ(vs->LiveTables(), live_before);

    // The manifest's tail is in doubt: later edits fail until the tree is reopened.
    fs.ClearFaults();
    const VersionEdit later = add("g", "h");
    EXPECT_FALSE(vs->LogAndApply(later).ok());
    EXPECT_EQ(vs->current(), before);

    // A restart without a power cut: the failed edit may be there (its outcome was unknown).
    vs.reset();
    vs = std::make_unique<VersionSet>(fs, kDir);
    ASSERT_OK(vs->Recover(false));
    TreeState with_failed = state_before;
    ApplyToModel(with_failed, failing);
    const TreeState got = Observe(*vs);
    EXPECT_TRUE(got == state_before || got == with_failed) << Describe(got);
    ASSERT_OK(vs->LogAndApply(later));
  }
}

// An edit that recovery could not read back must never reach the manifest: every later Recover
// would fail and the tree would be lost. LogAndApply refuses it (kInvalidArgument) and changes
// nothing, and the tree still opens.
TEST(VersionSetValidation, EditRecoveryCouldNotReadBack_RefusedAndTheTreeStillOpens) {
  VersionEdit short_pointer;
  short_pointer.compact_pointers = {{1, "abc"}};  // Shorter than an internal key's trailer.
  VersionEdit huge_sequence;
  huge_sequence.last_sequence = kMaxSequenceNumber + 1;
  for (const VersionEdit* edit : {&short_pointer, &huge_sequence}) {
    SCOPED_TRACE("edit " + edit->DebugString());
    auto fs = NewMemFileSystem();
    ASSERT_OK(fs->CreateDirs(kDir));
    {
      VersionSet vs(*fs, kDir);
      ASSERT_OK(vs.Recover(true));
      const std::shared_ptr<const Version> before = vs.current();
      const Status s = vs.LogAndApply(*edit);
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
      EXPECT_EQ(vs.current(), before);
    }
    VersionSet vs(*fs, kDir);
    EXPECT_OK(vs.Recover(false));
  }
}

// The same, for an edit that is well formed itself but whose last_sequence, filled in by
// LogAndApply from the counter SetLastSequence raised past 56 bits, is not.
TEST(VersionSetValidation, CounterPast56Bits_NextEditRefusedAndTheTreeStillOpens) {
  auto fs = NewMemFileSystem();
  ASSERT_OK(fs->CreateDirs(kDir));
  {
    VersionSet vs(*fs, kDir);
    ASSERT_OK(vs.Recover(true));
    vs.SetLastSequence(kMaxSequenceNumber + 1);
    VersionEdit e;
    e.log_number = 3;
    const Status s = vs.LogAndApply(e);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  }
  VersionSet vs(*fs, kDir);
  EXPECT_OK(vs.Recover(false));
}

// ===== Damage =====

// A tree whose manifest holds three records: the snapshot Recover(true) wrote, then two edits.
class ManifestDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fs = NewMemFileSystem();
    ASSERT_OK(fs->CreateDirs(kDir));
    VersionSet vs(*fs, kDir);
    ASSERT_OK(vs.Recover(true));
    manifest_ = ManifestFileName(vs.manifest_number());
    ASSERT_OK_AND_ASSIGN(const std::uint64_t snapshot_end, fs->FileSize(ManifestPath()));
    ends_.push_back(snapshot_end);
    states_.push_back(Observe(vs));
    for (int i = 0; i < 2; ++i) {
      const FileMeta t = Table(vs.NewFileNumber(), i == 0 ? "a" : "k", i == 0 ? "f" : "p");
      tables_.push_back(t.number);
      ASSERT_OK(CreateTableFile(*fs, t.number));
      VersionEdit e;
      e.new_files = {{i, t}};
      e.log_number = 10 + i;
      e.last_sequence = 100 * (i + 1);
      e.compact_pointers = {{i, t.largest}};
      ASSERT_OK(vs.LogAndApply(e));
      ASSERT_OK_AND_ASSIGN(const std::uint64_t end, fs->FileSize(ManifestPath()));
      ends_.push_back(end);
      states_.push_back(Observe(vs));
    }
    disk_ = SnapshotDisk(*fs);
  }

  std::string ManifestPath() const { return JoinPath(kDir, manifest_); }

  // Where the record holding byte `offset` of the manifest starts.
  std::uint64_t RecordStart(std::uint64_t offset) const {
    std::uint64_t start = 0;
    for (std::uint64_t end : ends_) {
      if (offset < end) return start;
      start = end;
    }
    return start;
  }

  Disk disk_;
  std::string manifest_;             // Its name.
  std::vector<std::uint64_t> ends_;  // ends_[i]: where record i ends (record 0: the snapshot).
  std::vector<TreeState> states_;    // states_[i]: the state after record i.
  std::vector<std::uint64_t> tables_;
};

TEST_F(ManifestDamageTest, TornTail_EveryCutInsideAnEdit_RecoversTheStateBeforeThatEdit) {
  for (std::uint64_t size = ends_[0]; size < ends_[2]; ++size) {
    SCOPED_TRACE(fmt::format("manifest cut to {} of {} bytes", size, ends_[2]));
    auto fs = FsWithDisk(disk_);
    ASSERT_OK(fs->Truncate(ManifestPath(), size));
    ASSERT_OK_AND_ASSIGN(const TreeState got, RecoverState(*fs));
    EXPECT_EQ(got, size >= ends_[1] ? states_[1] : states_[0]);
  }
}

TEST_F(ManifestDamageTest, TornTail_TheLostEditStaysLost_LaterEditsSurviveReopen) {
  auto fs = FsWithDisk(disk_);
  ASSERT_OK(fs->Truncate(ManifestPath(), ends_[2] - 3));
  VersionEdit e;
  {
    VersionSet vs(*fs, kDir);
    ASSERT_OK(vs.Recover(false));
    ASSERT_EQ(Observe(vs), states_[1]);
    e.new_files = {{3, Table(vs.NewFileNumber(), "x", "y")}};
    ASSERT_OK(CreateTableFile(*fs, e.new_files[0].second.number));
    ASSERT_OK(vs.LogAndApply(e));
  }
  TreeState expected = states_[1];
  ApplyToModel(expected, e);
  ASSERT_OK_AND_ASSIGN(const TreeState got, RecoverState(*fs));
  EXPECT_EQ(got, expected);
}

// A manifest cut inside its first record (the snapshot) has lost the tree: it must not open as
// an empty one.
TEST_F(ManifestDamageTest, ManifestCutInsideItsSnapshot_IsCorruption_NotAnEmptyTree) {
  for (std::uint64_t size = 0; size < ends_[0]; ++size) {
    SCOPED_TRACE(fmt::format("manifest cut to {} bytes", size));
    auto fs = FsWithDisk(disk_);
    ASSERT_OK(fs->Truncate(ManifestPath(), size));
    EXPECT_STATUS(RecoverState(*fs), StatusCode::kCorruption);
  }
}

TEST_F(ManifestDamageTest, FlippedBit_AnywhereInTheManifest_CorruptionNamingFileAndRecordOffset) {
  const std::string& original = disk_.at(manifest_);
  ASSERT_EQ(original.size(), ends_.back());
  for (std::size_t byte = 0; byte < original.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(fmt::format("bit {} of byte {}", bit, byte));
      Disk damaged = disk_;
      damaged[manifest_][byte] = static_cast<char>(original[byte] ^ (1 << bit));
      auto fs = FsWithDisk(damaged);
      const auto got = RecoverState(*fs);
      ASSERT_FALSE(got.has_value()) << "recovered " << Describe(*got);
      EXPECT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
      EXPECT_THAT(got.error().message(), HasSubstr(manifest_));
      EXPECT_TRUE(MentionsOffset(got.error().message(), RecordStart(byte)))
          << got.error().ToString() << " should name offset " << RecordStart(byte);
    }
  }
}

TEST_F(ManifestDamageTest, CurrentNamesAMissingManifest_IsCorruptionNamingIt) {
  {
    auto fs = FsWithDisk(disk_);
    ASSERT_OK(WriteFileAtomically(*fs, JoinPath(kDir, kCurrentFileName), "MANIFEST-000777\n"));
    const auto got = RecoverState(*fs);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
    EXPECT_THAT(got.error().message(), HasSubstr("MANIFEST-000777"));
  }
  {
    auto fs = FsWithDisk(disk_);
    ASSERT_OK(fs->RemoveFile(ManifestPath()));
    const auto got = RecoverState(*fs);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
    EXPECT_THAT(got.error().message(), HasSubstr(manifest_));
  }
}

TEST_F(ManifestDamageTest, CurrentHoldingGarbage_IsCorruption) {
  const std::vector<std::string> garbage = {
      "",
      "\n",
      "garbage\n",
      "MANIFEST-\n",
      "MANIFEST-00x002\n",
      "MANIFEST--00002\n",
      "CURRENT\n",
      "../" + manifest_ + "\n",
      "MANIFEST-" + std::string(30, '9') + "\n",
      std::string("\xff\x00\x13", 3),
  };
  for (const std::string& current : garbage) {
    SCOPED_TRACE(fmt::format("CURRENT holds {:?}", current));
    auto fs = FsWithDisk(disk_);
    ASSERT_OK(WriteFileAtomically(*fs, JoinPath(kDir, kCurrentFileName), current));
    EXPECT_STATUS(RecoverState(*fs), StatusCode::kCorruption);
  }
}

TEST_F(ManifestDamageTest, TableNamedByTheManifestMissing_IsCorruptionNamingIt) {
  for (std::uint64_t number : tables_) {
    SCOPED_TRACE(TableFileName(number));
    Disk damaged = disk_;
    ASSERT_EQ(damaged.erase(TableFileName(number)), 1u);
    auto fs = FsWithDisk(damaged);
    const auto got = RecoverState(*fs);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
    EXPECT_THAT(got.error().message(), HasSubstr(TableFileName(number)));
  }
}

TEST_F(ManifestDamageTest, NoCurrent_WithoutCreateIfMissing_NotFoundAndNothingWritten) {
  {
    auto fs = NewMemFileSystem();
    ASSERT_OK(fs->CreateDirs(kDir));
    VersionSet vs(*fs, kDir);
    EXPECT_STATUS(vs.Recover(false), StatusCode::kNotFound);
    ASSERT_OK_AND_ASSIGN(const std::vector<std::string> names, fs->ListDir(kDir));
    EXPECT_TRUE(names.empty()) << fmt::format("[{}]", fmt::join(names, ", "));
  }
  {
    Disk no_current = disk_;
    no_current.erase(std::string(kCurrentFileName));
    auto fs = FsWithDisk(no_current);
    EXPECT_STATUS(RecoverState(*fs), StatusCode::kNotFound);
    EXPECT_EQ(SnapshotDisk(*fs), no_current);
  }
}

// Writes a manifest of `edits`, one record each, as MANIFEST-000050, points CURRENT at it, and
// creates the file of every table the edits add.
void WriteTree(FileSystem& fs, const std::vector<VersionEdit>& edits) {
  KV_CHECK(fs.CreateDirs(kDir).ok(), "CreateDirs");
  std::string manifest;
  for (const VersionEdit& e : edits) {
    phase1::AppendRecord(manifest, EncodeEdit(e));
    for (const auto& [level, f] : e.new_files) {
      KV_CHECK(CreateTableFile(fs, f.number).ok(), "create table file");
    }
  }
  KV_CHECK(WriteFileAtomically(fs, JoinPath(kDir, ManifestFileName(50)), manifest).ok(), "write");
  KV_CHECK(
      WriteFileAtomically(fs, JoinPath(kDir, kCurrentFileName), ManifestFileName(50) + "\n").ok(),
      "write");
}

TEST(ManifestContents, EditThatDoesNotApply_CorruptionNamingItsOffset) {
  VersionEdit first;
  first.next_file_number = 60;
  first.new_files = {{0, Table(5, "a", "b")}};
  VersionEdit second;
  second.deleted_files = {{0, 7}};  // Never added.
  auto fs = NewMemFileSystem();
  WriteTree(*fs, {first, second});
  const auto got = RecoverState(*fs);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), StatusCode::kCorruption) << got.error().ToString();
  EXPECT_THAT(got.error().message(), HasSubstr(ManifestFileName(50)));
  const std::uint64_t second_offset = phase1::kRecordHeaderBytes + EncodeEdit(first).size();
  EXPECT_TRUE(MentionsOffset(got.error().message(), second_offset)) << got.error().ToString();
}

TEST(ManifestContents, EditsLeavingOverlappingLevelOne_IsCorruption) {
  VersionEdit first;
  first.next_file_number = 60;
  first.new_files = {{1, Table(5, "a", "c")}};
  VersionEdit second;
  second.new_files = {{1, Table(6, "b", "d")}};
  auto fs = NewMemFileSystem();
  WriteTree(*fs, {first, second});
  EXPECT_STATUS(RecoverState(*fs), StatusCode::kCorruption);
}

TEST(ManifestContents, NoEditGivesTheNextFileNumber_IsCorruption) {
  VersionEdit only;
  only.log_number = 3;
  only.new_files = {{0, Table(5, "a", "c")}};
  auto fs = NewMemFileSystem();
  WriteTree(*fs, {only});
  EXPECT_STATUS(RecoverState(*fs), StatusCode::kCorruption);
}

// The manifest's own number is taken, whatever its last edit recorded as the next file number.
TEST(ManifestContents, NextFileNumberBelowTheManifestsOwn_NumbersHandedOutStayAboveIt) {
  VersionEdit only;
  only.next_file_number = 10;  // Below 50, the number of the manifest WriteTree writes.
  only.new_files = {{0, Table(5, "a", "c")}};
  auto fs = NewMemFileSystem();
  WriteTree(*fs, {only});
  VersionSet vs(*fs, kDir);
  ASSERT_OK(vs.Recover(false));
  EXPECT_GT(vs.manifest_number(), 50u);
  EXPECT_GT(vs.NewFileNumber(), vs.manifest_number());
}

// ===== LiveTables =====

std::vector<std::uint64_t> Sorted(std::vector<std::uint64_t> v) {
  std::ranges::sort(v);
  return v;
}

TEST_F(VersionSetTest, LiveTables_VersionHeldByAReaderKeepsItsDeletedTables_UntilReleased) {
  const FileMeta t1 = NewTable("a", "c");
  const FileMeta t2 = NewTable("b", "d");
  VersionEdit flush;
  flush.new_files = {{0, t1}, {0, t2}};
  ASSERT_OK(vs_->LogAndApply(flush));
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t1.number, t2.number}));

  std::shared_ptr<const Version> first_reader = vs_->current();
  const FileMeta t3 = NewTable("a", "d");
  VersionEdit compaction;
  compaction.deleted_files = {{0, t1.number}, {0, t2.number}};
  compaction.new_files = {{1, t3}};
  ASSERT_OK(vs_->LogAndApply(compaction));
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t1.number, t2.number, t3.number}));

  std::shared_ptr<const Version> second_reader = vs_->current();
  const FileMeta t4 = NewTable("a", "d");
  VersionEdit move;
  move.deleted_files = {{1, t3.number}};
  move.new_files = {{2, t4}};
  ASSERT_OK(vs_->LogAndApply(move));
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t1.number, t2.number, t3.number, t4.number}));

  first_reader.reset();
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t3.number, t4.number}));
  second_reader.reset();
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t4.number}));

  // A version no reader held is gone as soon as it is replaced.
  const FileMeta t5 = NewTable("a", "d");
  VersionEdit replace;
  replace.deleted_files = {{2, t4.number}};
  replace.new_files = {{2, t5}};
  ASSERT_OK(vs_->LogAndApply(replace));
  EXPECT_EQ(Sorted(vs_->LiveTables()), Sorted({t5.number}));
}

TEST_F(VersionSetTest, Recover_TableDeletedByAnEdit_NeedNotExist) {
  const FileMeta t = NewTable("a", "c");
  ASSERT_OK(Add(0, t));
  const FileMeta u = NewTable("a", "c");
  VersionEdit compaction;
  compaction.deleted_files = {{0, t.number}};
  compaction.new_files = {{1, u}};
  ASSERT_OK(vs_->LogAndApply(compaction));
  ASSERT_OK(fs_->RemoveFile(JoinPath(kDir, TableFileName(t.number))));
  ASSERT_NO_FATAL_FAILURE(Open(false));
  EXPECT_TRUE(Numbers(0).empty());
  EXPECT_EQ(Numbers(1), std::vector<std::uint64_t>{u.number});
}

}  // namespace
}  // namespace kv::storage::lsm
