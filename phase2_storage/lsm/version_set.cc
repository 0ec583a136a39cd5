#include "phase2_storage/lsm/version_set.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "phase1_single_node/file_names.h"
#include "phase1_single_node/record_log.h"

namespace kv::storage::lsm {

std::string TableFileName(std::uint64_t number) { return fmt::format("{:06}.sst", number); }
std::string ManifestFileName(std::uint64_t number) { return fmt::format("MANIFEST-{:06}", number); }

namespace {

std::string_view SmallestUser(const FileMeta& f) { return ExtractUserKey(f.smallest); }
std::string_view LargestUser(const FileMeta& f) { return ExtractUserKey(f.largest); }

std::optional<std::uint64_t> ParseManifestName(std::string_view name) {
  return phase1::ParseNumberedName(name, "MANIFEST-", "");
}

}  // namespace

std::optional<std::uint64_t> ParseTableFileName(std::string_view name) {
  return phase1::ParseNumberedName(name, "", ".sst");
}

std::uint64_t Version::LevelBytes(int level) const {
  std::uint64_t total = 0;
  for (const auto& f : files(level)) total += f->size;
  return total;
}

std::size_t Version::NumFiles() const {
  std::size_t n = 0;
  for (const auto& level : levels_) n += level.size();
  return n;
}

Version::Files Version::Overlapping(int level, std::string_view smallest_user_key,
                                    std::string_view largest_user_key) const {
  Files out;
  for (const auto& f : files(level)) {
    if (CompareUserKeys(LargestUser(*f), smallest_user_key) < 0) continue;
    if (CompareUserKeys(SmallestUser(*f), largest_user_key) > 0) {
      if (level > 0) break;  // Sorted and disjoint: nothing further can overlap.
      continue;
    }
    out.push_back(f);
  }
  return out;
}

Status Version::CheckInvariants() const {
  std::set<std::uint64_t> numbers;
  for (int level = 0; level < kNumLevels; ++level) {
    const Files& fs = files(level);
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const FileMeta& f = *fs[i];
      if (!numbers.insert(f.number).second) {
        return Status::Corruption(fmt::format("table {} appears twice in the version", f.number));
      }
      if (CompareInternalKeys(f.smallest, f.largest) > 0) {
        return Status::Corruption(
            fmt::format("L{} table {}: smallest key sorts after largest", level, f.number));
      }
      if (i == 0) continue;
      const FileMeta& prev = *fs[i - 1];
      if (level == 0 && prev.number <= f.number) {
        return Status::Corruption(fmt::format(
            "L0 not newest first: table {} is listed before table {}", prev.number, f.number));
      }
      if (level > 0 && CompareUserKeys(LargestUser(prev), SmallestUser(f)) >= 0) {
        return Status::Corruption(
            fmt::format("L{} tables {} and {} overlap or are out of order ('{}' >= '{}')", level,
                        prev.number, f.number, LargestUser(prev), SmallestUser(f)));
      }
    }
  }
  return Status::Ok();
}

std::string Version::Describe() const {
  std::string out;
  for (int level = 0; level < kNumLevels; ++level) {
    if (files(level).empty()) continue;
    if (!out.empty()) out += " | ";
    out += fmt::format("L{}: {} files {:.1f} MiB", level, files(level).size(),
                       static_cast<double>(LevelBytes(level)) / (1 << 20));
  }
  return out.empty() ? "no tables" : out;
}

Result<std::shared_ptr<Version>> VersionSet::Apply(const Version& base, const VersionEdit& edit) {
  auto v = std::make_shared<Version>(base);
  for (const auto& [level, number] : edit.deleted_files) {
    auto& fs = v->levels_[static_cast<std::size_t>(level)];
    auto it =
        std::find_if(fs.begin(), fs.end(), [&](const auto& f) { return f->number == number; });
    if (it == fs.end()) {
      return Status::Corruption(fmt::format(
          "version edit deletes table {} from L{}, which does not hold it", number, level));
    }
    fs.erase(it);
  }
  for (const auto& [level, f] : edit.new_files) {
    v->levels_[static_cast<std::size_t>(level)].push_back(std::make_shared<const FileMeta>(f));
  }
  auto& l0 = v->levels_[0];
  std::sort(l0.begin(), l0.end(),
            [](const auto& a, const auto& b) { return a->number > b->number; });
  for (int level = 1; level < kNumLevels; ++level) {
    auto& fs = v->levels_[static_cast<std::size_t>(level)];
    std::sort(fs.begin(), fs.end(), [](const auto& a, const auto& b) {
      return CompareInternalKeys(a->smallest, b->smallest) < 0;
    });
  }
  return v;
}

VersionEdit VersionSet::SnapshotEdit(const Version& version) const {
  VersionEdit e;
  e.log_number = log_number_;
  e.next_file_number = next_file_number_;
  e.last_sequence = last_sequence_;
  for (int level = 0; level < kNumLevels; ++level) {
    if (!compact_pointers_[static_cast<std::size_t>(level)].empty()) {
      e.compact_pointers.emplace_back(level, compact_pointers_[static_cast<std::size_t>(level)]);
    }
    for (const auto& f : version.files(level)) e.new_files.emplace_back(level, *f);
  }
  return e;
}

Status VersionSet::StartManifest(const Version& version) {
  const std::uint64_t old_number = manifest_number_;
  const std::uint64_t number = NewFileNumber();
  const std::string path = JoinPath(dir_, ManifestFileName(number));
  std::string record;
  {
    std::lock_guard lock(mu_);
    std::string payload;
    SnapshotEdit(version).Encode(payload);
    phase1::AppendRecord(record, payload);
  }
  KV_ASSIGN_OR_RETURN(auto file, fs_.NewWritableFile(path));
  KV_RETURN_IF_ERROR(file->Append(record));
  KV_RETURN_IF_ERROR(file->Sync());
  KV_RETURN_IF_ERROR(fs_.SyncDir(dir_));
  // From here the new manifest is complete; CURRENT switching to it is the commit point.
  KV_RETURN_IF_ERROR(
      WriteFileAtomically(fs_, JoinPath(dir_, kCurrentFileName), ManifestFileName(number) + "\n"));
  manifest_ = std::move(file);
  manifest_number_ = number;
  if (old_number != 0) {
    // Best effort: a leftover old manifest is harmless (CURRENT does not name it) and is removed
    // at the next open.
    (void)fs_.RemoveFile(JoinPath(dir_, ManifestFileName(old_number)));
  }
  return Status::Ok();
}

Status VersionSet::Recover(bool create_if_missing) {
  const std::string current_path = JoinPath(dir_, kCurrentFileName);
  KV_ASSIGN_OR_RETURN(bool exists, fs_.FileExists(current_path));
  auto empty = std::make_shared<Version>();
  if (!exists) {
    if (!create_if_missing) {
      return Status::NotFound(fmt::format("{}: no LSM tree here (no CURRENT file)", dir_));
    }
    current_ = empty;
    KV_RETURN_IF_ERROR(StartManifest(*empty));
    return RemoveStaleManifests();
  }
  KV_ASSIGN_OR_RETURN(std::string current, ReadFileToString(fs_, current_path));
  if (current.empty() || current.back() != '\n' ||
      !ParseManifestName(std::string_view(current).substr(0, current.size() - 1))) {
    return Status::Corruption(fmt::format("{}: does not name a manifest", current_path));
  }
  current.pop_back();
  const std::string manifest_path = JoinPath(dir_, current);
  KV_ASSIGN_OR_RETURN(bool manifest_exists, fs_.FileExists(manifest_path));
  if (!manifest_exists) {
    return Status::Corruption(
        fmt::format("{}: names {}, which is missing", current_path, manifest_path));
  }
  KV_ASSIGN_OR_RETURN(std::string data, ReadFileToString(fs_, manifest_path));
  phase1::RecordReader reader(data, manifest_path);
  std::shared_ptr<Version> v = empty;
  bool have_next_file = false;
  for (;;) {
    const auto outcome = reader.Next();
    if (outcome == phase1::RecordReader::Outcome::kEnd ||
        outcome == phase1::RecordReader::Outcome::kTornTail) {
      break;  // A torn last edit was never acknowledged: the state before it stands.
    }
    if (outcome == phase1::RecordReader::Outcome::kCorrupt) return reader.status();
    auto bad = [&](const Status& s) {
      return Status::Corruption(fmt::format("{}: {} in the edit at offset {}", manifest_path,
                                            s.message(), reader.record_offset()));
    };
    auto edit = VersionEdit::Decode(reader.payload());
    if (!edit) return bad(edit.error());
    auto next = Apply(*v, *edit);
    if (!next) return bad(next.error());
    v = std::move(*next);
    if (edit->log_number) log_number_ = *edit->log_number;
    if (edit->next_file_number) {
      next_file_number_ = *edit->next_file_number;
      have_next_file = true;
    }
    if (edit->last_sequence) last_sequence_ = *edit->last_sequence;
    for (const auto& [level, key] : edit->compact_pointers) {
      compact_pointers_[static_cast<std::size_t>(level)] = key;
    }
  }
  if (!have_next_file) {
    return Status::Corruption(fmt::format("{}: no edit gives the next file number", manifest_path));
  }
  if (Status s = v->CheckInvariants(); !s.ok()) {
    return Status::Corruption(fmt::format("{}: {}", manifest_path, s.message()));
  }
  for (int level = 0; level < kNumLevels; ++level) {
    for (const auto& f : v->files(level)) {
      const std::string path = JoinPath(dir_, TableFileName(f->number));
      KV_ASSIGN_OR_RETURN(bool present, fs_.FileExists(path));
      if (!present) {
        return Status::Corruption(
            fmt::format("{}: names table {} (L{}), which is missing", manifest_path, path, level));
      }
    }
  }
  manifest_number_ = *ParseManifestName(current);
  next_file_number_ = std::max(next_file_number_, manifest_number_ + 1);
  current_ = v;
  KV_RETURN_IF_ERROR(StartManifest(*v));
  return RemoveStaleManifests();
}

Status VersionSet::RemoveStaleManifests() {
  // A manifest replaced at an earlier open may have come back: its removal is undone by a power
  // cut before the directory was synced. Only the one CURRENT names matters.
  KV_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.ListDir(dir_));
  for (const std::string& name : names) {
    auto number = ParseManifestName(name);
    if (number && *number != manifest_number_) {
      KV_RETURN_IF_ERROR(fs_.RemoveFile(JoinPath(dir_, name)));
    }
  }
  return Status::Ok();
}

Status VersionSet::LogAndApply(VersionEdit edit) {
  KV_RETURN_IF_ERROR(error_);
  {
    std::lock_guard lock(mu_);
    edit.next_file_number = next_file_number_;
    edit.last_sequence = std::max(last_sequence_, edit.last_sequence.value_or(0));
  }
  {
    // An edit that recovery would refuse to read back must never reach the manifest: the tree
    // could not be reopened. Decoding it is the one check that cannot drift from Decode's.
    std::string probe;
    edit.Encode(probe);
    if (auto decoded = VersionEdit::Decode(probe); !decoded) {
      return Status::InvalidArgument(fmt::format("refused a malformed version edit: {} (edit {})",
                                                 decoded.error().message(), edit.DebugString()));
    }
  }
  std::shared_ptr<const Version> base = current();
  auto applied = Apply(*base, edit);
  if (!applied) {
    return Status::InvalidArgument(fmt::format("refused a version edit: {} (edit {})",
                                               applied.error().message(), edit.DebugString()));
  }
  std::shared_ptr<Version> next = std::move(*applied);
  if (Status s = next->CheckInvariants(); !s.ok()) {
    return Status::InvalidArgument(
        fmt::format("refused a version edit that would break an invariant: {} (edit {})",
                    s.message(), edit.DebugString()));
  }
  std::string payload;
  edit.Encode(payload);
  std::string record;
  phase1::AppendRecord(record, payload);
  Status s = manifest_->Append(record);
  if (s.ok()) s = manifest_->Sync();
  if (!s.ok()) {
    error_ = s;
    return s;
  }
  std::lock_guard lock(mu_);
  old_versions_.push_back(current_);
  std::erase_if(old_versions_, [](const auto& w) { return w.expired(); });
  current_ = std::move(next);
  if (edit.log_number) log_number_ = *edit.log_number;
  last_sequence_ = std::max(last_sequence_, *edit.last_sequence);
  for (const auto& [level, key] : edit.compact_pointers) {
    compact_pointers_[static_cast<std::size_t>(level)] = key;
  }
  return Status::Ok();
}

std::shared_ptr<const Version> VersionSet::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::uint64_t VersionSet::NewFileNumber() {
  std::lock_guard lock(mu_);
  return next_file_number_++;
}

std::uint64_t VersionSet::log_number() const {
  std::lock_guard lock(mu_);
  return log_number_;
}

SequenceNumber VersionSet::last_sequence() const {
  std::lock_guard lock(mu_);
  return last_sequence_;
}

void VersionSet::SetLastSequence(SequenceNumber sequence) {
  std::lock_guard lock(mu_);
  last_sequence_ = std::max(last_sequence_, sequence);
}

std::uint64_t VersionSet::manifest_number() const {
  std::lock_guard lock(mu_);
  return manifest_number_;
}

std::string VersionSet::compact_pointer(int level) const {
  std::lock_guard lock(mu_);
  return compact_pointers_[static_cast<std::size_t>(level)];
}

std::vector<std::uint64_t> VersionSet::LiveTables() const {
  std::lock_guard lock(mu_);
  std::set<std::uint64_t> live;
  auto add = [&](const Version& v) {
    for (int level = 0; level < kNumLevels; ++level) {
      for (const auto& f : v.files(level)) live.insert(f->number);
    }
  };
  add(*current_);
  for (const auto& w : old_versions_) {
    if (auto v = w.lock()) add(*v);
  }
  return {live.begin(), live.end()};
}

}  // namespace kv::storage::lsm
