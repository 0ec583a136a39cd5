// kv_crash_demo: what survives a power cut, shown with the fault-injecting file system.
//
// Writes three files in different states of durability, cuts the power, and prints what is left:
//   synced.log     appended, Sync()ed, directory synced   -> survives whole
//   partial.log    two records synced, a third not        -> loses the third record
//   unnamed.log    appended and Sync()ed, directory not   -> the name is lost, so the file is gone
// This is the model every crash test in the course runs against (docs/testing.md).
#include <cstdio>
#include <string>

#include "common/fault_file_system.h"
#include "common/mem_file_system.h"

namespace {

kv::Status Run() {
  auto mem = kv::NewMemFileSystem();
  kv::FaultInjectionFileSystem fs(*mem);
  KV_RETURN_IF_ERROR(fs.CreateDirs("demo"));

  KV_ASSIGN_OR_RETURN(auto synced, fs.NewWritableFile("demo/synced.log"));
  KV_RETURN_IF_ERROR(synced->Append("record-1\n"));
  KV_RETURN_IF_ERROR(synced->Sync());

  KV_ASSIGN_OR_RETURN(auto partial, fs.NewWritableFile("demo/partial.log"));
  KV_RETURN_IF_ERROR(partial->Append("record-1\nrecord-2\n"));
  KV_RETURN_IF_ERROR(partial->Sync());
  KV_RETURN_IF_ERROR(fs.SyncDir("demo"));  // Both names above are now durable.
  KV_RETURN_IF_ERROR(partial->Append("record-3 (never synced)\n"));

  KV_ASSIGN_OR_RETURN(auto unnamed, fs.NewWritableFile("demo/unnamed.log"));
  KV_RETURN_IF_ERROR(unnamed->Append("record-1\n"));
  KV_RETURN_IF_ERROR(unnamed->Sync());  // Contents durable, but the directory entry is not.

  std::printf("before the power cut:\n");
  KV_ASSIGN_OR_RETURN(auto before, fs.ListDir("demo"));
  for (const auto& name : before) {
    KV_ASSIGN_OR_RETURN(auto data, kv::ReadFileToString(fs, kv::JoinPath("demo", name)));
    std::printf("  %-12s %zu bytes\n", name.c_str(), data.size());
  }

  KV_RETURN_IF_ERROR(fs.PowerCut());

  std::printf("after the power cut:\n");
  KV_ASSIGN_OR_RETURN(auto after, fs.ListDir("demo"));
  for (const auto& name : after) {
    KV_ASSIGN_OR_RETURN(auto data, kv::ReadFileToString(fs, kv::JoinPath("demo", name)));
    std::printf("  %-12s %zu bytes\n", name.c_str(), data.size());
  }
  std::printf("unnamed.log is gone: its directory was never synced.\n");
  return kv::Status::Ok();
}

}  // namespace

int main() {
  kv::Status s = Run();
  if (!s.ok()) {
    std::fprintf(stderr, "kv_crash_demo: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
