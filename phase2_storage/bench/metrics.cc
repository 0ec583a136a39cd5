#include "phase2_storage/bench/metrics.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace kv::bench {
namespace {

// The value of "name: value" (or "name = value") on the first line of `path` starting with
// `name`, or an error naming the file.
Result<std::string> ReadField(const std::string& path, std::string_view name) {
  std::ifstream in(path);
  if (!in) return Status::IOError(fmt::format("cannot read {}", path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name)) {
      std::size_t sep = line.find_first_of(":=", name.size());
      if (sep == std::string::npos) continue;
      std::size_t begin = line.find_first_not_of(" \t\"", sep + 1);
      std::size_t end = line.find_last_not_of(" \t\"");
      if (begin == std::string::npos) return std::string();
      return line.substr(begin, end - begin + 1);
    }
  }
  return Status::NotFound(fmt::format("no field '{}' in {}", name, path));
}

Result<std::uint64_t> ReadNumber(const std::string& path, std::string_view name) {
  KV_ASSIGN_OR_RETURN(std::string text, ReadField(path, name));
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return Status::Corruption(
        fmt::format("{}: field '{}' is not a number: '{}'", path, name, text));
  }
}

}  // namespace

Result<std::uint64_t> ProcessDiskWriteBytes() {
  KV_ASSIGN_OR_RETURN(std::uint64_t written, ReadNumber("/proc/self/io", "write_bytes"));
  KV_ASSIGN_OR_RETURN(std::uint64_t cancelled,
                      ReadNumber("/proc/self/io", "cancelled_write_bytes"));
  return written >= cancelled ? written - cancelled : 0;
}

Status ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  if (!out) return Status::IOError("cannot write /proc/self/clear_refs");
  return Status::Ok();
}

Result<double> PeakRssMiB() {
  KV_ASSIGN_OR_RETURN(std::uint64_t kib, ReadNumber("/proc/self/status", "VmHWM"));
  return static_cast<double>(kib) / 1024.0;
}

Result<std::uint64_t> DiskUsageBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  if (ec) return Status::IOError(fmt::format("cannot walk {}: {}", dir, ec.message()));
  return total;
}

MachineInfo DescribeMachine(const std::string& data_dir, const std::string& command) {
  MachineInfo m;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.date = date;
  m.cpu = ReadField("/proc/cpuinfo", "model name").value_or("unknown");
  m.cores = std::thread::hardware_concurrency();
  if (auto kib = ReadNumber("/proc/meminfo", "MemTotal"))
    m.memory_gib = static_cast<double>(*kib) / (1024.0 * 1024.0);
  struct utsname u {};
  if (::uname(&u) == 0) m.kernel = u.release;
  m.os = ReadField("/etc/os-release", "PRETTY_NAME").value_or("unknown");
  // The file system type: the longest mount point that is a prefix of the data directory.
  std::error_code ec;
  const std::string abs = std::filesystem::weakly_canonical(data_dir, ec).string();
  std::ifstream mounts("/proc/mounts");
  std::string device, mount_point, type, rest;
  std::size_t best = 0;
  while (mounts >> device >> mount_point >> type && std::getline(mounts, rest)) {
    const bool prefix =
        abs.starts_with(mount_point) &&
        (mount_point == "/" || abs.size() == mount_point.size() || abs[mount_point.size()] == '/');
    if (prefix && mount_point.size() >= best) {
      best = mount_point.size();
      m.filesystem = type;
    }
  }
  m.data_dir = abs;
  m.command = command;
  return m;
}

}  // namespace kv::bench
