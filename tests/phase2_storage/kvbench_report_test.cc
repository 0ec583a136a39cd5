// kvbench's report (report.h) on a small, hand-made set of results: two engines, three
// workloads, with an "n/a" row, an "error" row and figures that do not apply. Checks that
//   * each workload's table carries the right figures, "n/a" and "—" where due, and the ratio to
//     LevelDB's ops/s;
//   * the machine, every engine's settings line and the three plots appear in the markdown;
//   * the plots are SVG files gnuplot drew, with their titles and axis labels, and stale plots of
//     an earlier report are gone;
//   * without gnuplot, the report says which package to install.
#include "phase2_storage/bench/report.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"

namespace kv::bench {
namespace {

namespace fs = std::filesystem;

WorkloadResult OkRow(std::string engine, std::string workload, double ops_per_sec) {
  WorkloadResult row;
  row.engine = std::move(engine);
  row.workload = std::move(workload);
  row.settings = row.engine == "leveldb" ? "defaults, compression off, 8 MiB block cache"
                                         : "phase 1 store, sync none";
  row.num = 1000;
  row.value_size = 100;
  row.ops = 1000;
  row.ops_per_sec = ops_per_sec;
  row.seconds = double(row.ops) / ops_per_sec;
  row.mb_per_sec = ops_per_sec * 116 / (1 << 20);
  return row;
}

WorkloadResult OtherRow(std::string engine, std::string workload, std::string status,
                        std::string error) {
  WorkloadResult row;
  row.engine = std::move(engine);
  row.workload = std::move(workload);
  row.status = std::move(status);
  row.error = std::move(error);
  return row;
}

// leveldb and mem on fillrandom (both ok), readrandom (mem failed) and readseq (n/a for mem).
std::vector<WorkloadResult> SampleResults() {
  std::vector<WorkloadResult> results;

  WorkloadResult row = OkRow("leveldb", "fillrandom", 500'000);
  row.p50_us = 1.5;
  row.p99_us = 4.25;
  row.p999_us = 310.4;
  row.write_amp = 4.5;
  row.space_amp = 1.004;
  row.peak_rss_mb = 45.54;
  results.push_back(row);

  row = OkRow("mem", "fillrandom", 1'250'000);
  row.p50_us = 0.62;
  row.p99_us = 12.5;
  row.p999_us = 2'048;
  row.write_amp = 1.1234;  // space_amp left absent.
  row.peak_rss_mb = 50.04;
  results.push_back(row);

  row = OkRow("leveldb", "readrandom", 333'333);
  row.p50_us = 2.8;
  row.p99_us = 9.75;
  row.p999_us = 40.2;  // No write or space amplification: readrandom writes nothing.
  row.read_amp = 1.234;
  row.peak_rss_mb = 46;
  results.push_back(row);

  results.push_back(OtherRow("mem", "readrandom", "error", "IOError: disk | full"));

  row = OkRow("leveldb", "readseq", 15'400'000);  // No latency for readseq.
  row.peak_rss_mb = 46;
  results.push_back(row);

  results.push_back(OtherRow("mem", "readseq", "n/a", ""));
  return results;
}

MachineInfo SampleMachine() {
  MachineInfo machine;
  machine.date = "2026-11-21T08:00:00Z";
  machine.cpu = "AMD EPYC 7B13";
  machine.cores = 2;
  machine.memory_gib = 7.75;
  machine.kernel = "6.1.0-26-amd64";
  machine.os = "Debian GNU/Linux 12 (bookworm)";
  machine.filesystem = "ext4";
  machine.data_dir = "/tmp/kvbench-data";
  machine.command = "kvbench --engines leveldb,mem --workloads fillrandom,readrandom,readseq";
  return machine;
}

bool GnuplotInstalled() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cells of `engine`'s row in the table under "### <workload>", trimmed; empty if none.
// An escaped "\|" stays inside its cell.
std::vector<std::string> TableRow(const std::string& markdown, const std::string& workload,
                                  const std::string& engine) {
  std::istringstream lines(markdown);
  std::string line;
  bool in_section = false;
  while (std::getline(lines, line)) {
    if (line.starts_with("#")) in_section = line == "### " + workload;
    if (!in_section || !line.starts_with("| " + engine + " |")) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {  // Past the leading '|'.
      if (line[i] == '|' && line[i - 1] != '\\') {
        cell.erase(0, cell.find_first_not_of(' '));
        cell.erase(cell.find_last_not_of(' ') + 1);
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    return cells;
  }
  return {};
}

class KvbenchReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "kvbench_report_test_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path dir_;
};

TEST_F(KvbenchReportTest, Report_HasEveryFigure_NaAndDashWhereDue_RatioToLevelDb) {
  if (!GnuplotInstalled()) GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  const fs::path markdown_path = dir_ / "docs" / "benchmarks.md";
  ASSERT_OK(WriteReport(SampleResults(), SampleMachine(), markdown_path.string()));
  const std::string md = ReadFile(markdown_path);

  EXPECT_NE(md.find("Generated by `scripts/bench-report.sh` — do not edit by hand; the guide to "
                    "these figures is docs/kvbench.md"),
            std::string::npos);
  const MachineInfo machine = SampleMachine();
  for (const std::string& fact :
       {machine.date, machine.cpu, std::string("| cores | 2 |"), std::string("7.8 GiB"),
        machine.kernel, machine.os, machine.filesystem, machine.data_dir, machine.command}) {
    EXPECT_NE(md.find(fact), std::string::npos) << fact;
  }

  // engine | ops/s | MiB/s | p50 | p99 | p99.9 | write amp | space amp | read amp | peak RSS |
  // × leveldb
  using Cells = std::vector<std::string>;
  EXPECT_EQ(TableRow(md, "fillrandom", "leveldb"),
            (Cells{"leveldb", "500,000", "55.3", "1.50", "4.25", "310", "4.50", "1.00", "—", "45.5",
                   "1.00"}));
  EXPECT_EQ(TableRow(md, "fillrandom", "mem"), (Cells{"mem", "1,250,000", "138", "0.62", "12.5",
                                                      "2,048", "1.12", "—", "—", "50.0", "2.50"}))
      << "absent space amp is a dash; 1,250,000 / 500,000 ops/s = 2.50 × leveldb";
  EXPECT_EQ(TableRow(md, "readrandom", "leveldb"),
            (Cells{"leveldb", "333,333", "36.9", "2.80", "9.75", "40.2", "—", "—", "1.23", "46.0",
                   "1.00"}));
  EXPECT_EQ(TableRow(md, "readrandom", "mem"), (Cells{"mem", "error: IOError: disk \\| full", "—",
                                                      "—", "—", "—", "—", "—", "—", "—", "—"}))
      << "an error row carries its message, with the '|' escaped for the table";
  EXPECT_EQ(TableRow(md, "readseq", "leveldb"), (Cells{"leveldb", "15,400,000", "1,704", "—", "—",
                                                       "—", "—", "—", "—", "46.0", "1.00"}));
  EXPECT_EQ(TableRow(md, "readseq", "mem"),
            (Cells{"mem", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"}));

  EXPECT_NE(md.find("- `leveldb`: defaults, compression off, 8 MiB block cache"),
            std::string::npos);
  EXPECT_NE(md.find("- `mem`: phase 1 store, sync none"), std::string::npos);
  for (const char* plot : {"throughput", "latency", "amplification"}) {
    EXPECT_NE(md.find(std::string("](benchmarks/") + plot + ".svg)"), std::string::npos) << plot;
  }
}

TEST_F(KvbenchReportTest, Plots_AreSvgWithTitlesAndUnits_StalePlotsRemoved) {
  if (!GnuplotInstalled()) GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  const fs::path plots = dir_ / "benchmarks";
  fs::create_directories(plots);
  std::ofstream(plots / "old_plot.svg") << "<svg/>";
  std::ofstream(plots / "notes.txt") << "not a plot";

  ASSERT_OK(WriteReport(SampleResults(), SampleMachine(), (dir_ / "benchmarks.md").string()));

  struct Expected {
    const char* file;
    std::vector<const char*> texts;  // Title, axis labels, legend entries.
  };
  for (const Expected& expected : std::vector<Expected>{
           {"throughput.svg", {"Throughput", "operations per second", "leveldb", "mem"}},
           {"latency.svg", {"p50", "p99", "p99.9", "latency, µs", "leveldb", "mem"}},
           {"amplification.svg",
            {"write amplification", "space amplification", "÷ user bytes", "leveldb", "mem"}},
       }) {
    const fs::path svg = plots / expected.file;
    ASSERT_TRUE(fs::exists(svg)) << svg;
    const std::string text = ReadFile(svg);
    EXPECT_NE(text.find("<svg"), std::string::npos) << svg;
    EXPECT_NE(text.find("</svg>"), std::string::npos) << svg << " is cut short";
    for (const char* label : expected.texts) {
      EXPECT_NE(text.find(label), std::string::npos) << svg << " lacks \"" << label << "\"";
    }
  }
  EXPECT_FALSE(fs::exists(plots / "old_plot.svg")) << "a plot of an earlier report must go";
  EXPECT_TRUE(fs::exists(plots / "notes.txt")) << "only *.svg files are removed";
}

TEST_F(KvbenchReportTest, Amplification_LinearNearOne_LogScaleWhenItSpansOrdersOfMagnitude) {
  if (!GnuplotInstalled()) GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  const fs::path markdown_path = dir_ / "benchmarks.md";
  const fs::path svg = dir_ / "benchmarks" / "amplification.svg";
  std::vector<WorkloadResult> results = SampleResults();  // Write amp 1.12 to 4.50: linear.
  ASSERT_OK(WriteReport(results, SampleMachine(), markdown_path.string()));
  EXPECT_EQ(ReadFile(svg).find("(log scale)"), std::string::npos);

  WorkloadResult synced = OkRow("leveldb", "fillsync", 7'000);  // A 4 KiB page per 116-byte put.
  synced.write_amp = 36.2;
  results.push_back(synced);
  ASSERT_OK(WriteReport(results, SampleMachine(), markdown_path.string()));
  EXPECT_NE(ReadFile(svg).find("user bytes (×) (log scale)"), std::string::npos)
      << "1.12 and 36.2 on one linear axis would flatten the small figures";
}

TEST_F(KvbenchReportTest, WithoutGnuplot_IsNotSupportedNamingThePackage) {
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path == nullptr ? "" : old_path;
  ASSERT_EQ(::setenv("PATH", dir_.c_str(), 1), 0);  // An empty directory: no gnuplot there.
  Status status = WriteReport(SampleResults(), SampleMachine(), (dir_ / "benchmarks.md").string());
  ASSERT_EQ(::setenv("PATH", saved.c_str(), 1), 0);

  EXPECT_EQ(status.code(), StatusCode::kNotSupported) << status.ToString();
  EXPECT_NE(status.message().find("gnuplot-nox"), std::string::npos) << status.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "benchmarks.md")) << "nothing is written without gnuplot";
}

}  // namespace
}  // namespace kv::bench
