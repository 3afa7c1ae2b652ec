// The figures program's pieces: its options, the helpers every figure uses, and the Figures
// class whose drawing methods live in figures_rand.cc (the rand experiment's figures) and
// figures_mnist_kernels.cc (MNIST, kernel throughput, energy, breakdown).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plots/gnuplot_out.h"
#include "results/analysis.h"
#include "results/costs.h"

namespace figures {

struct Options {
  std::string data = "data", paper, out = "data/figures", formats = "all";
  std::vector<std::string> inputs;  // instead of <data>/reference and <data>/results
  bool quiet = false;
};

// The function key of Identity, the reference of every relative cost.
const std::string& identity_key();
// The paper's figures (b) and (c) with intervals for one scale (costs.h, group_summary).
ip::GroupSummary summary_of(const ip::ScaleResult& s);
// Tics of the scale axis: 10^n at every integer n in the range.
std::string scale_tics(double lo, double hi);
double scale_x(const ip::ScaleResult& s);  // log10 of the instances
// Colours for platforms in the multi-platform figures; the paper's platforms get muted ones.
std::string platform_colour(int index, bool paper);

class Figures {
 public:
  Figures(const Options& opt, const ip::ResultLoader& loaded, std::vector<plots::Format> formats)
      : opt_(opt), loaded_(loaded), formats_(std::move(formats)) {}

  void draw_all();
  const std::vector<std::string>& written() const { return written_; }
  std::vector<std::string>& notes() { return notes_; }

 private:
  // Writes the figure's CSV and draws it in every format.
  void emit(const std::string& stem, int w, int h, const std::string& csv,
            const std::function<void(gnuplotio::Gnuplot&)>& body);
  // (1) seconds per instance against 10^n, one line per function (the paper's dc_cpu figure).
  void cost_per_instance(const ip::Platform& p);
  // (1b) every function's cost relative to Identity with its 95% interval, one series per scale
  // measured in rounds, functions ordered by their cost at the largest such scale.
  void relative_cost(const ip::Platform& p);
  // (2) slowest/fastest within the activation and the dropout group, per scale and platform.
  void group_spread();
  // (3) mean over activations of time / Identity's time, with the standard deviation.
  void relative_to_identity();
  // (4) MNIST time to the target accuracy: bars sorted by time, grey when never reached.
  void mnist_time(const ip::MnistSet& m);
  // (4b) the same split in two: epochs to the target per function (with the paper's, derived,
  // beside them when its files are loaded) over seconds per training epoch.
  void mnist_epochs(const ip::MnistSet& m, const ip::MnistSet* paper);
  // (5a) effective GB/s of each kernel (forward, backward) against the copy bandwidth.
  void kernel_throughput(const ip::KernelBenchFile& k);
  // (5b) joules per instance per function at the largest scale with energy readings.
  void energy(const ip::Platform& p);
  // (5c) where a prediction's time goes: GEMM vs the function vs dropout, stacked per function.
  void breakdown(const ip::PlatformBreakdown& b);

  const Options& opt_;
  const ip::ResultLoader& loaded_;
  std::vector<plots::Format> formats_;
  std::vector<std::string> written_, notes_;
};

}  // namespace figures
