// figures: draws the paper's four figures and ours from result files, through gnuplot.
//
// Inputs: <data>/reference/<platform>/ (shipped runs; the directory names the platform),
// <data>/results/ (the user's runs, searched recursively; platforms named by file prefix) and,
// with --paper, the paper's own files as "paper:<prefix>" series. Every figure is written as SVG,
// PNG and PDF (when gnuplot has the terminal) with the numbers it plots in a CSV beside it.
//
// Exit status: 0 figures drawn, 1 a file could not be read or a figure failed (the message
// names it), 2 usage error, 3 no results found (the message says how to produce them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "experiments/common/cli.h"
#include "plots/figures.h"

namespace fs = std::filesystem;

namespace figures {

const std::string& identity_key() {
  static const std::string key = ip::function_key(ip::function_info(ip::FunctionId::Identity));
  return key;
}

ip::GroupSummary summary_of(const ip::ScaleResult& s) {
  return ip::group_summary(ip::round_values(s, identity_key()), s.pred_items);
}

// Tics of the scale axis: 10^n at every integer n in the range.
std::string scale_tics(double lo, double hi) {
  std::string tics = "set xtics (";
  for (int n = static_cast<int>(std::floor(lo)); n <= static_cast<int>(std::ceil(hi)); ++n)
    tics += std::string(n == static_cast<int>(std::floor(lo)) ? "" : ", ") + "'10^{" + std::to_string(n) +
            "}' " + std::to_string(n);
  return tics + ")\n";
}

double scale_x(const ip::ScaleResult& s) { return std::log10(static_cast<double>(s.pred_items)); }

// Colours for platforms in the multi-platform figures; the paper's platforms get muted ones.
std::string platform_colour(int index, bool paper) {
  static const char* const ours[] = {"#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b"};
  static const char* const theirs[] = {"#ff7f0e", "#d62728", "#e377c2", "#bcbd22", "#7f7f7f"};
  return paper ? theirs[index % 5] : ours[index % 5];
}

void Figures::draw_all() {
  for (const ip::Platform& p : loaded_.platforms()) cost_per_instance(p);
  for (const ip::Platform& p : loaded_.platforms()) relative_cost(p);
  if (!loaded_.platforms().empty()) {
    group_spread();
    relative_to_identity();
  }
  for (const ip::MnistSet& m : loaded_.mnist()) mnist_time(m);
  const ip::MnistSet* paper_mnist = nullptr;
  for (const ip::MnistSet& m : loaded_.mnist())
    if (m.name.rfind("paper:", 0) == 0 && m.dataset == "mnist") paper_mnist = &m;
  for (const ip::MnistSet& m : loaded_.mnist())
    if (m.name.rfind("paper:", 0) != 0) mnist_epochs(m, paper_mnist);
  for (const ip::KernelBenchFile& k : loaded_.kernel_bench()) kernel_throughput(k);
  for (const ip::Platform& p : loaded_.platforms()) energy(p);
  for (const ip::PlatformBreakdown& b : loaded_.breakdowns()) breakdown(b);
}

void Figures::emit(const std::string& stem, int w, int h, const std::string& csv,
                   const std::function<void(gnuplotio::Gnuplot&)>& body) {
  for (const std::string& p : plots::draw(opt_.out, stem, w, h, formats_, body, csv)) written_.push_back(p);
}

}  // namespace figures

namespace {

using figures::Options;

const char* const kHowTo =
    "figures: no result files found.\n"
    "Looked in <data>/reference/<platform>/ and <data>/results/ (data = '%s').\n"
    "Produce results with, for example:\n"
    "  make reproduce                      # the paper's protocol on this machine, then the figures\n"
    "  build/rand_power --functions all --scales 0-5 --out data/results\n"
    "  build/mnist_power --functions relu,gelu,identity --out data/results\n"
    "  build/kernel_bench --out data/results\n"
    "or restore the shipped reference runs: git checkout -- data/reference\n";

// Loads the data folder's reference runs and results, and the paper's files when asked.
void load(const Options& opt, ip::ResultLoader& loader) {
  std::error_code ec;
  for (const std::string& in : opt.inputs) loader.add_path(in, "", true);
  const fs::path reference = fs::path(opt.data) / "reference";
  if (opt.inputs.empty() && fs::is_directory(reference, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(reference, ec))
      if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& d : dirs) loader.add_path(d.string(), d.filename().string(), true);
  }
  const fs::path results = fs::path(opt.data) / "results";
  if (opt.inputs.empty() && fs::is_directory(results, ec)) {
    bool any = false;
    for (const auto& e : fs::recursive_directory_iterator(results, ec))
      any = any || (e.is_regular_file() && e.path().extension() == ".json");
    if (any) loader.add_path(results.string(), "", true);
  }
  if (!opt.paper.empty()) {
    // The paper's platforms keep their prefixes, marked so nobody takes them for ours.
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(opt.paper, ec))
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    if (ec) throw std::runtime_error(opt.paper + ": cannot list directory: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) loader.add_path(f, "paper:" + ip::file_prefix(f));
  }
}

int run(const Options& opt) {
  ip::ResultLoader loader;
  load(opt, loader);
  if (loader.platforms().empty() && loader.mnist().empty() && loader.kernel_bench().empty()) {
    std::fprintf(stderr, kHowTo, opt.data.c_str());
    return 3;
  }
  std::vector<std::string> notes;
  std::vector<plots::Format> formats = plots::select_formats(opt.formats, notes);
  ip::prepare_output_dir(opt.out, "--out", 64);
  figures::Figures figures(opt, loader, formats);
  figures.draw_all();
  for (const std::string& n : loader.notes()) notes.push_back(n);
  for (const std::string& n : figures.notes()) notes.push_back(n);
  std::string notes_text;
  for (const std::string& n : notes) notes_text += n + "\n";
  ip::write_file_atomic((fs::path(opt.out) / "NOTES.txt").string(), notes_text);
  if (!opt.quiet) {
    for (const std::string& p : figures.written()) std::printf("%s\n", p.c_str());
    for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "figures: draws the paper's figures (seconds per instance vs scale, group spread, cost relative to "
      "Identity, MNIST time to 90%) and ours (every function's cost relative to Identity with its 95% CI, kernel "
      "throughput vs copy bandwidth, energy per instance, time breakdown) from result files, as SVG, PNG and PDF with a CSV of the plotted numbers beside each. Reads "
      "<data>/reference/<platform>/ and <data>/results/; --paper adds the paper's files as 'paper:' series."};
  Options opt;
  app.add_option("--data", opt.data, "data folder holding reference/ and results/")->capture_default_str();
  app.add_option("--input", opt.inputs,
                 "result file or folder to draw instead of <data>/reference and <data>/results "
                 "(repeatable; folders are searched recursively)");
  app.add_option("--paper", opt.paper, "folder of the paper's result files (e.g. ../shared/reference/paper)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--out", opt.out, "folder the figures are written to")->capture_default_str();
  app.add_option("--formats", opt.formats, "comma-separated svg, png, pdf, or all")->capture_default_str();
  app.add_flag("--quiet", opt.quiet, "print nothing but errors");
  if (const int rc = ip::parse_command_line(app, argc, argv, "figures"); rc >= 0) return rc;
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "figures: error: %s\n", e.what());
    return 1;
  }
}
