#include "common/file_system.h"

namespace kv {

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string DirName(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Result<std::string> ReadFileToString(FileSystem& fs, const std::string& path) {
  KV_ASSIGN_OR_RETURN(auto file, fs.NewRandomAccessFile(path));
  KV_ASSIGN_OR_RETURN(std::uint64_t size, file->Size());
  std::string out(size, '\0');
  KV_ASSIGN_OR_RETURN(std::size_t n, file->Read(0, out));
  out.resize(n);
  return out;
}

Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    KV_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(tmp));
    KV_RETURN_IF_ERROR(file->Append(data));
    KV_RETURN_IF_ERROR(file->Sync());
    KV_RETURN_IF_ERROR(file->Close());
  }
  KV_RETURN_IF_ERROR(fs.Rename(tmp, path));
  return fs.SyncDir(DirName(path));
}

}  // namespace kv
