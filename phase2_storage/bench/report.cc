// The benchmark report: one markdown file holding every figure of a kvbench run in tables, and
// three plots of those figures, drawn as SVG by gnuplot.
//
// Read top to bottom: how numbers are printed; the markdown; the plots (a data table per panel,
// a gnuplot script per plot, running gnuplot); WriteReport, which ties them together.
//
// A figure that is missing (an "n/a" or "error" row, or an optional the workload does not
// measure) is never shown as 0: the tables print "n/a" or "—", and the plots' data files print
// gnuplot's missing-data marker "?", so that engine's bar is simply absent.
#include "phase2_storage/bench/report.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace kv::bench {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kNotMeasured = "—";
constexpr std::string_view kBaselineEngine = "leveldb";

// ---------------------------------------------------------------------------------------------
// Numbers as the tables print them.

// 1234567.8 -> "1,234,568".
std::string GroupThousands(double value) {
  if (value < 0) return "-" + GroupThousands(-value);
  std::string digits = fmt::format("{:.0f}", value);
  std::string grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

// Enough digits to compare figures, no more: 0.73, 7.34, 73.4, 734, 7,340, 73,400.
// Used for ops/s, MiB/s, microseconds and MiB of memory.
std::string FormatFigure(double value) {
  if (value < 10) return fmt::format("{:.2f}", value);
  if (value < 100) return fmt::format("{:.1f}", value);
  return GroupThousands(value);
}

// Amplifications and ratios: always two decimals, so that a column lines up.
std::string FormatRatio(double value) { return fmt::format("{:.2f}", value); }

std::string FormatOptional(const std::optional<double>& value, std::string (*format)(double)) {
  return value.has_value() ? format(*value) : std::string(kNotMeasured);
}

// ---------------------------------------------------------------------------------------------
// Looking rows up.

bool IsOk(const WorkloadResult& row) { return row.status == "ok"; }

// The distinct values of `field` (engine or workload), in the order the rows first name them.
std::vector<std::string> InOrderOfAppearance(const std::vector<WorkloadResult>& results,
                                             std::string WorkloadResult::*field) {
  std::vector<std::string> names;
  for (const WorkloadResult& row : results) {
    if (std::ranges::find(names, row.*field) == names.end()) names.push_back(row.*field);
  }
  return names;
}

// The first row for (engine, workload), or nullptr. Points into `results`.
const WorkloadResult* FindRow(const std::vector<WorkloadResult>& results, std::string_view engine,
                              std::string_view workload) {
  auto it = std::ranges::find_if(results, [&](const WorkloadResult& row) {
    return row.engine == engine && row.workload == workload;
  });
  return it == results.end() ? nullptr : &*it;
}

// ---------------------------------------------------------------------------------------------
// The markdown.

// Text that is safe inside a table cell: a '|' would end the cell and a newline the row.
std::string MarkdownCell(std::string_view text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') {
      cell += "\\|";
    } else if (c == '\n' || c == '\r') {
      cell += ' ';
    } else {
      cell += c;
    }
  }
  return cell;
}

std::string TableRow(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const std::string& cell : cells) line += fmt::format(" {} |", cell);
  return line + "\n";
}

void AppendMachine(std::string& md, const MachineInfo& machine) {
  md += "## Machine\n\n";
  md += "| | |\n|---|---|\n";
  md += TableRow({"date (UTC)", MarkdownCell(machine.date)});
  md += TableRow({"CPU", MarkdownCell(machine.cpu)});
  md += TableRow({"cores", fmt::format("{}", machine.cores)});
  md += TableRow({"memory", fmt::format("{:.1f} GiB", machine.memory_gib)});
  md += TableRow({"kernel", MarkdownCell(machine.kernel)});
  md += TableRow({"OS", MarkdownCell(machine.os)});
  md += TableRow({"file system", MarkdownCell(machine.filesystem)});
  md += TableRow({"data directory", fmt::format("`{}`", MarkdownCell(machine.data_dir))});
  md += fmt::format("\nCommand line:\n\n    {}\n\n", machine.command);
  md +=
      "Absolute figures on a shared machine drift (up to 2× between runs); ratios between "
      "engines measured in this one run are what to compare.\n\n";
}

// The cells after the engine's name, in the order of kFigureColumns. `baseline` is the leveldb
// row of the same workload, or nullptr.
constexpr std::array<std::string_view, 10> kFigureColumns = {
    "ops/s",     "MiB/s",     "p50 µs",   "p99 µs",       "p99.9 µs",
    "write amp", "space amp", "read amp", "peak RSS MiB", "× leveldb"};

std::vector<std::string> FigureCells(const WorkloadResult& row, const WorkloadResult* baseline) {
  if (row.status == "n/a") return std::vector<std::string>(kFigureColumns.size(), "n/a");
  if (!IsOk(row)) {
    std::vector<std::string> cells(kFigureColumns.size(), std::string(kNotMeasured));
    cells[0] = MarkdownCell(fmt::format("{}: {}", row.status, row.error));  // "error: ..."
    return cells;
  }
  std::optional<double> ratio;
  if (baseline != nullptr && IsOk(*baseline) && baseline->ops_per_sec > 0) {
    ratio = row.ops_per_sec / baseline->ops_per_sec;
  }
  return {FormatFigure(row.ops_per_sec),
          FormatFigure(row.mb_per_sec),
          FormatOptional(row.p50_us, FormatFigure),
          FormatOptional(row.p99_us, FormatFigure),
          FormatOptional(row.p999_us, FormatFigure),
          FormatOptional(row.write_amp, FormatRatio),
          FormatOptional(row.space_amp, FormatRatio),
          FormatOptional(row.read_amp, FormatRatio),
          FormatOptional(row.peak_rss_mb, FormatFigure),
          FormatOptional(ratio, FormatRatio)};
}

void AppendWorkloadTable(std::string& md, const std::vector<WorkloadResult>& results,
                         const std::string& workload) {
  md += fmt::format("### {}\n\n", workload);
  auto first_ok = std::ranges::find_if(
      results, [&](const WorkloadResult& row) { return row.workload == workload && IsOk(row); });
  if (first_ok != results.end()) {
    md += fmt::format("N = {} records, {}-byte values; {} operations timed.\n\n",
                      GroupThousands(double(first_ok->num)), first_ok->value_size,
                      GroupThousands(double(first_ok->ops)));
  }

  std::vector<std::string> header = {"engine"};
  header.insert(header.end(), kFigureColumns.begin(), kFigureColumns.end());
  md += TableRow(header);
  md += "|---|";  // The engine's name left-aligned, the figures right-aligned.
  for (std::size_t i = 0; i < kFigureColumns.size(); ++i) md += "--:|";
  md += "\n";

  const WorkloadResult* baseline = FindRow(results, kBaselineEngine, workload);
  for (const WorkloadResult& row : results) {
    if (row.workload != workload) continue;
    std::vector<std::string> cells = {MarkdownCell(row.engine)};
    std::ranges::move(FigureCells(row, baseline), std::back_inserter(cells));
    md += TableRow(cells);
  }
  md += "\n";
}

void AppendSettings(std::string& md, const std::vector<WorkloadResult>& results) {
  md += "## Engine settings\n\n";
  for (const std::string& engine : InOrderOfAppearance(results, &WorkloadResult::engine)) {
    auto with_settings = std::ranges::find_if(results, [&](const WorkloadResult& row) {
      return row.engine == engine && !row.settings.empty();
    });
    std::string settings =
        with_settings == results.end() ? "(not reported)" : with_settings->settings;
    md += fmt::format("- `{}`: {}\n", engine, settings);
  }
  md += "\n";
}

// ---------------------------------------------------------------------------------------------
// The plots.
//
// Every plot is clustered bars: one cluster per workload, one bar per engine, drawn from a
// tab-separated table whose first column is the workload and whose other columns are the engines
// (in the same order in every plot, so that an engine keeps its colour). A plot has one or more
// panels stacked vertically, each showing one figure.

// One figure of a row, or nothing if the row does not have it.
using Metric = std::function<std::optional<double>(const WorkloadResult&)>;

enum class YScale {
  kLog,        // Always logarithmic: these figures span orders of magnitude by nature.
  kLogIfWide,  // Linear from 0, unless the figures span more than kWideSpan: then logarithmic.
};
// Beyond this ratio of the largest to the smallest figure, a linear axis flattens the small ones.
constexpr double kWideSpan = 30;

struct Panel {
  std::string title;    // Above the panel; empty for a single-panel plot.
  std::string y_label;  // What is measured, with its unit. " (log scale)" is added when it is.
  YScale scale = YScale::kLog;
  std::string tic_format;  // gnuplot's format of the y tics.
  Metric metric;
};

struct Plot {
  std::string name;  // benchmarks/<name>.svg
  std::string title;
  std::string alt_text;  // For the markdown image.
  int height = 560;      // Pixels; the width grows with the number of workloads.
  bool reference_line_at_one = false;
  std::vector<Panel> panels;
};

// An optional figure of a row, which only "ok" rows have.
Metric OkFigure(std::optional<double> WorkloadResult::*field) {
  return [field](const WorkloadResult& row) -> std::optional<double> {
    return IsOk(row) ? row.*field : std::nullopt;
  };
}

std::vector<Plot> ReportPlots() {
  // Tics labelled 1k, 10k, 1M read faster than 1000, 10000, 1e+06.
  const std::string kPrefixedTics = "%.0s%c";
  Metric ops_per_sec = [](const WorkloadResult& row) -> std::optional<double> {
    return IsOk(row) ? std::optional(row.ops_per_sec) : std::nullopt;
  };
  return {
      Plot{.name = "throughput",
           .title = "Throughput by workload (higher is better)",
           .alt_text = "Throughput: operations per second, per workload and engine (log scale)",
           .panels = {{"", "operations per second", YScale::kLog, kPrefixedTics, ops_per_sec}}},
      Plot{.name = "latency",
           .title = "Latency per operation (lower is better)",
           .alt_text = "Latency: p50, p99 and p99.9 in microseconds, per workload and engine",
           .height = 1100,
           .panels = {{"p50 (median)", "latency, µs", YScale::kLog, "%g",
                       OkFigure(&WorkloadResult::p50_us)},
                      {"p99", "latency, µs", YScale::kLog, "%g", OkFigure(&WorkloadResult::p99_us)},
                      {"p99.9", "latency, µs", YScale::kLog, "%g",
                       OkFigure(&WorkloadResult::p999_us)}}},
      Plot{.name = "amplification",
           .title = "Write and space amplification (lower is better; dashed line: 1.0 = none)",
           .alt_text = "Write and space amplification per workload and engine",
           .height = 800,
           .reference_line_at_one = true,
           .panels = {{"write amplification", "bytes written to disk ÷ user bytes (×)",
                       YScale::kLogIfWide, "%g", OkFigure(&WorkloadResult::write_amp)},
                      {"space amplification", "bytes on disk ÷ logical bytes (×)",
                       YScale::kLogIfWide, "%g", OkFigure(&WorkloadResult::space_amp)}}},
  };
}

// A panel's figures: one row per workload, one column per engine, empty where there is no figure
// to draw.
using Grid = std::vector<std::vector<std::optional<double>>>;

Grid PanelGrid(const Panel& panel, const std::vector<WorkloadResult>& results,
               const std::vector<std::string>& workloads, const std::vector<std::string>& engines) {
  Grid grid(workloads.size(), std::vector<std::optional<double>>(engines.size()));
  for (std::size_t w = 0; w < workloads.size(); ++w) {
    for (std::size_t e = 0; e < engines.size(); ++e) {
      const WorkloadResult* row = FindRow(results, engines[e], workloads[w]);
      std::optional<double> value = row == nullptr ? std::nullopt : panel.metric(*row);
      if (value.has_value() && std::isfinite(*value)) grid[w][e] = value;
    }
  }
  return grid;
}

bool HasFigure(const std::vector<std::optional<double>>& figures) {
  return std::ranges::any_of(figures, [](const auto& figure) { return figure.has_value(); });
}

// How a panel's y axis is drawn, decided from its figures.
struct YAxis {
  bool log_scale = false;
  std::string range;  // gnuplot's [min:max].
};

// Decides the axis of a panel from its figures, and, on a logarithmic axis, removes from `grid`
// the figures <= 0, which it cannot draw (the tables still show them). A logarithmic axis spans
// whole decades, with the lowest bar visibly above the bottom. `with_one`: the axis must show 1.0.
YAxis ChooseYAxis(YScale scale, bool with_one, Grid& grid) {
  double smallest = with_one ? 1 : std::numeric_limits<double>::infinity();
  double largest = with_one ? 1 : 0;
  for (const auto& figures : grid) {
    for (const std::optional<double>& figure : figures) {
      if (figure.has_value() && *figure > 0) {
        smallest = std::min(smallest, *figure);
        largest = std::max(largest, *figure);
      }
    }
  }
  if (largest == 0) return {false, "[0:*]"};  // Nothing above zero to draw.
  if (scale == YScale::kLogIfWide && largest / smallest <= kWideSpan) {
    return {false, with_one ? "[0:1.2<*]" : "[0:*]"};
  }
  for (auto& figures : grid) {
    for (std::optional<double>& figure : figures) {
      if (figure.has_value() && *figure <= 0) figure.reset();
    }
  }
  // gnuplot's own autoscaling may start the axis exactly at the smallest bar, hiding it.
  const double bottom = std::pow(10, std::floor(std::log10(smallest) - 0.05));
  const double top = std::pow(10, std::ceil(std::log10(largest) + 0.05));
  return {true, fmt::format("[{}:{}]", bottom, top)};
}

// The tab-separated table gnuplot reads: a header naming the engines, then one line per
// workload shown, "?" (gnuplot's missing-data marker) where there is no figure.
std::string PanelData(const Grid& grid, const std::vector<bool>& shown,
                      const std::vector<std::string>& workloads,
                      const std::vector<std::string>& engines) {
  std::string data = "workload";
  for (const std::string& engine : engines) data += "\t" + engine;
  data += "\n";
  for (std::size_t w = 0; w < workloads.size(); ++w) {
    if (!shown[w]) continue;
    data += workloads[w];
    for (const std::optional<double>& figure : grid[w]) {
      data += figure.has_value() ? fmt::format("\t{}", *figure) : "\t?";
    }
    data += "\n";
  }
  return data;
}

// A gnuplot string literal. In single quotes gnuplot takes everything literally except '',
// which stands for one quote.
std::string GnuplotString(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

// A word for /bin/sh: single-quoted, with each ' written as '\''.
std::string ShellWord(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A colour-blind-safe palette (Okabe and Ito), one colour per engine, cycling after eight.
constexpr std::array<std::string_view, 8> kEngineColours = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999", "#000000"};

// A panel as it will be drawn.
struct PanelDrawing {
  const Panel* panel;
  YAxis y_axis;
  fs::path data_file;  // Its table, written by PanelData.
};

std::string GnuplotScript(const Plot& plot, const std::vector<PanelDrawing>& panels,
                          std::size_t engine_count, std::size_t workload_count,
                          const fs::path& svg) {
  std::string gp;
  gp +=
      fmt::format("# {}: drawn by kvbench's report (phase2_storage/bench/report.cc).\n", plot.name);
  gp += fmt::format(
      "set terminal svg size {},{} dynamic font 'sans,12' noenhanced background rgb 'white'\n",
      std::max<std::size_t>(1000, 200 + 100 * workload_count), plot.height);
  gp += "set encoding utf8\n";
  gp += fmt::format("set output {}\n", GnuplotString(svg.string()));
  gp += "set datafile separator tab\nset datafile missing '?'\n";
  gp += "set style data histogram\nset style histogram clustered gap 1\n";
  gp += "set style fill solid 0.85 border rgb '#333333'\n";
  gp += "set key outside right top\nset grid ytics\nset xlabel 'workload'\n";
  // Workload names stay horizontal (rotated ones were drawn over the bars by some SVG viewers);
  // the plot is widened instead, ~100 pixels per workload.
  for (std::size_t i = 0; i < kEngineColours.size(); ++i) {
    gp += fmt::format("set linetype {} linecolor rgb '{}'\n", i + 1, kEngineColours[i]);
  }
  gp += fmt::format("set linetype cycle {}\n", kEngineColours.size());

  if (panels.size() > 1) {
    gp += fmt::format("set multiplot layout {},1 title {} font ',14'\n", panels.size(),
                      GnuplotString(plot.title));
  }
  for (const PanelDrawing& drawing : panels) {
    const Panel& panel = *drawing.panel;
    gp += "\n";
    gp +=
        fmt::format("set title {}\n", GnuplotString(panels.size() > 1 ? panel.title : plot.title));
    gp += fmt::format(
        "set ylabel {}\n",
        GnuplotString(drawing.y_axis.log_scale ? panel.y_label + " (log scale)" : panel.y_label));
    gp += fmt::format("set format y {}\n", GnuplotString(panel.tic_format));
    if (drawing.y_axis.log_scale) {
      gp += "set logscale y\nset offsets 0,0,0,0\n";
    } else {
      gp += "unset logscale y\nset offsets 0,0,graph 0.05,0\n";  // Room above the bars.
    }
    gp += fmt::format("set yrange {}\n", drawing.y_axis.range);
    // The reference line is an arrow across the graph at y = 1: a plotted constant does not mix
    // with histogram style (it was drawn slanted).
    gp += "unset arrow\n";
    if (plot.reference_line_at_one) {
      gp +=
          "set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5 "
          "linecolor rgb 'black' front\n";
    }
    gp += fmt::format("plot for [i=2:{}] {} using i:xtic(1) title columnheader(i) linetype (i-1)",
                      engine_count + 1, GnuplotString(drawing.data_file.string()));
    gp += "\n";
  }
  if (panels.size() > 1) gp += "unset multiplot\n";
  gp += "unset output\n";
  return gp;
}

Status WriteTextFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::FromErrno(errno, path.string());
  out << text;
  out.close();
  if (!out) return Status::IOError(fmt::format("{}: write failed", path.string()));
  return Status::Ok();
}

// The last lines gnuplot wrote to stderr: where it stopped and why.
std::string TailOfLog(const fs::path& log) {
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string tail = text.str();
  constexpr std::size_t kMaxChars = 600;
  if (tail.size() > kMaxChars) tail = "..." + tail.substr(tail.size() - kMaxChars);
  while (!tail.empty() && std::isspace(static_cast<unsigned char>(tail.back()))) tail.pop_back();
  return tail;
}

Status RunGnuplot(const fs::path& script) {
  fs::path log = fs::path(script).replace_extension(".log");
  std::string command =
      fmt::format("gnuplot {} 2>{}", ShellWord(script.string()), ShellWord(log.string()));
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string how = status != -1 && WIFEXITED(status)
                          ? fmt::format("exit status {}", WEXITSTATUS(status))
                          : fmt::format("wait status {}", status);
    return Status::IOError(
        fmt::format("gnuplot failed on {} ({}): {}", script.string(), how, TailOfLog(log)));
  }
  return Status::Ok();
}

// Draws `plot` into out_dir/<name>.svg, keeping its data tables and script in work_dir.
// Returns false, drawing nothing, if no row has any of the plot's figures.
Result<bool> DrawPlot(const Plot& plot, const std::vector<WorkloadResult>& results,
                      const fs::path& work_dir, const fs::path& out_dir) {
  const std::vector<std::string> engines = InOrderOfAppearance(results, &WorkloadResult::engine);
  const std::vector<std::string> workloads =
      InOrderOfAppearance(results, &WorkloadResult::workload);

  std::vector<Grid> grids;
  std::vector<YAxis> y_axes;
  for (const Panel& panel : plot.panels) {
    grids.push_back(PanelGrid(panel, results, workloads, engines));
    y_axes.push_back(ChooseYAxis(panel.scale, plot.reference_line_at_one, grids.back()));
  }
  // The x axis: the workloads with a figure in some panel, the same in every panel.
  std::vector<bool> shown(workloads.size(), false);
  for (std::size_t w = 0; w < workloads.size(); ++w) {
    shown[w] = std::ranges::any_of(grids, [&](const Grid& grid) { return HasFigure(grid[w]); });
  }

  std::vector<PanelDrawing> drawings;
  for (std::size_t p = 0; p < plot.panels.size(); ++p) {
    // gnuplot refuses to plot a table without a single figure: such a panel is left out.
    if (!std::ranges::any_of(grids[p], HasFigure)) continue;
    fs::path data_file = work_dir / fmt::format("{}_{}.tsv", plot.name, p);
    KV_RETURN_IF_ERROR(WriteTextFile(data_file, PanelData(grids[p], shown, workloads, engines)));
    drawings.push_back({&plot.panels[p], y_axes[p], data_file});
  }
  if (drawings.empty()) return false;

  std::error_code ec;
  fs::path svg = fs::absolute(out_dir / (plot.name + ".svg"), ec);  // gnuplot runs elsewhere.
  if (ec) return Status::IOError(fmt::format("{}: {}", out_dir.string(), ec.message()));
  fs::path script = work_dir / (plot.name + ".gp");
  const std::size_t shown_count = std::ranges::count(shown, true);
  KV_RETURN_IF_ERROR(
      WriteTextFile(script, GnuplotScript(plot, drawings, engines.size(), shown_count, svg)));
  KV_RETURN_IF_ERROR(RunGnuplot(script));
  return true;
}

bool GnuplotOnPath() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view dirs = path;
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / "gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

// Creates out_dir if needed and removes the plots of an earlier report from it.
Status PreparePlotFolder(const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::IOError(fmt::format("{}: {}", out_dir.string(), ec.message()));
  // Removing the entry the iterator stands on is allowed; the iterator moves on unharmed.
  fs::directory_iterator it(out_dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".svg") fs::remove(it->path(), ec);
  }
  if (ec) return Status::IOError(fmt::format("{}: {}", out_dir.string(), ec.message()));
  return Status::Ok();
}

Result<fs::path> MakeWorkDir() {
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  std::string name = (tmp / "kvbench-report-XXXXXX").string();
  if (::mkdtemp(name.data()) == nullptr) return Status::FromErrno(errno, name);
  return fs::path(name);
}

std::string RenderMarkdown(const std::vector<WorkloadResult>& results, const MachineInfo& machine,
                           const std::vector<const Plot*>& drawn) {
  std::string md;
  md += "# kvbench results\n\n";
  md +=
      "> Generated by `scripts/bench-report.sh` — do not edit by hand; the guide to these "
      "figures is docs/kvbench.md.\n\n";
  AppendMachine(md, machine);

  md += "## Results\n\n";
  md +=
      "One table per workload, one row per engine, in the order they ran. "
      "**n/a**: the engine cannot run the workload (phase 1's `mem` store has no key order, "
      "so no scans). **—**: not measured for this workload (no latency for `readseq`; "
      "write and space amplification only after workloads that write; read amplification only "
      "after workloads that read, and only for the course's engines, which count what they read). "
      "**read amp**: 4 KiB units (an SSTable's data blocks, a B+tree's pages) read from the "
      "engine's files, from the disk or the OS's page cache, per operation. "
      "**× leveldb**: ops/s divided by "
      "LevelDB's ops/s on the same workload in this run. For `readseq` an operation is one entry "
      "read.\n\n";
  for (const std::string& workload : InOrderOfAppearance(results, &WorkloadResult::workload)) {
    AppendWorkloadTable(md, results, workload);
  }
  AppendSettings(md, results);

  md += "## Plots\n\n";
  md +=
      "A missing bar is a figure that is n/a, an error or not measured — never a zero. On a "
      "logarithmic axis a figure of 0 has no bar either; the tables above have it.\n\n";
  for (const Plot* plot : drawn) {
    md += fmt::format("![{}](benchmarks/{}.svg)\n\n", plot->alt_text, plot->name);
  }
  if (drawn.empty()) md += "No figures to plot.\n";
  return md;
}

}  // namespace

Status WriteReport(const std::vector<WorkloadResult>& results, const MachineInfo& machine,
                   const std::string& markdown_path) {
  if (!GnuplotOnPath()) return Status::NotSupported("gnuplot not found: install gnuplot-nox");

  const fs::path out_dir = fs::path(markdown_path).parent_path() / "benchmarks";
  KV_RETURN_IF_ERROR(PreparePlotFolder(out_dir));
  KV_ASSIGN_OR_RETURN(fs::path work_dir, MakeWorkDir());

  // On failure the work directory stays, so that the script named in the error can be rerun.
  const std::vector<Plot> plots = ReportPlots();
  std::vector<const Plot*> drawn;
  for (const Plot& plot : plots) {
    KV_ASSIGN_OR_RETURN(bool was_drawn, DrawPlot(plot, results, work_dir, out_dir));
    if (was_drawn) drawn.push_back(&plot);
  }
  std::error_code ignored;
  fs::remove_all(work_dir, ignored);

  return WriteTextFile(markdown_path, RenderMarkdown(results, machine, drawn));
}

}  // namespace kv::bench
