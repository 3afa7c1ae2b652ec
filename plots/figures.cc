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
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>

#include "experiments/common/analysis.h"
#include "experiments/common/costs.h"
#include "experiments/common/run_support.h"
#include "plots/gnuplot_out.h"

namespace fs = std::filesystem;
using gnuplotio::Gnuplot;
using plots::csv_field;
using plots::csv_number;
using plots::q;

namespace {

struct Options {
  std::string data = "data", paper, out = "data/figures", formats = "all";
  std::vector<std::string> inputs;  // instead of <data>/reference and <data>/results
  bool quiet = false;
};

const std::string& identity_key() {
  static const std::string key = ip::function_key(ip::function_info(ip::FunctionId::Identity));
  return key;
}

ip::GroupSummary summary_of(const ip::ScaleResult& s) {
  return ip::group_summary(ip::round_values(s, identity_key()), s.pred_items);
}

const char* const kHowTo =
    "figures: no result files found.\n"
    "Looked in <data>/reference/<platform>/ and <data>/results/ (data = '%s').\n"
    "Produce results with, for example:\n"
    "  make reproduce                      # the paper's protocol on this machine, then the figures\n"
    "  build/rand_power --functions all --scales 0-5 --runs 3 --out data/results\n"
    "  build/mnist_power --functions relu,gelu,identity --out data/results\n"
    "  build/kernel_bench --out data/results\n"
    "or restore the shipped reference runs: git checkout -- data/reference\n";

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

class Figures {
 public:
  Figures(const Options& opt, const ip::ResultLoader& loaded, std::vector<plots::Format> formats)
      : opt_(opt), loaded_(loaded), formats_(std::move(formats)) {}

  void draw_all() {
    for (const ip::Platform& p : loaded_.platforms()) cost_per_instance(p);
    for (const ip::Platform& p : loaded_.platforms()) relative_cost(p);
    if (!loaded_.platforms().empty()) {
      group_spread();
      relative_to_identity();
    }
    for (const ip::MnistSet& m : loaded_.mnist()) mnist_time(m);
    for (const ip::KernelBenchFile& k : loaded_.kernel_bench()) kernel_throughput(k);
    for (const ip::Platform& p : loaded_.platforms()) energy(p);
    for (const ip::PlatformBreakdown& b : loaded_.breakdowns()) breakdown(b);
  }

  const std::vector<std::string>& written() const { return written_; }
  std::vector<std::string>& notes() { return notes_; }

 private:
  void emit(const std::string& stem, int w, int h, const std::string& csv,
            const std::function<void(Gnuplot&)>& body) {
    for (const std::string& p : plots::draw(opt_.out, stem, w, h, formats_, body, csv)) written_.push_back(p);
  }

  // (1) seconds per instance against 10^n, one line per function (the paper's dc_cpu figure).
  void cost_per_instance(const ip::Platform& p) {
    struct Series {
      std::string label, group;
      int order = 0;
      std::vector<std::pair<double, double>> points;
    };
    std::map<std::string, Series> by_key;
    std::string csv = "platform,pred_items,scale,function,torch_key,group,runs,seconds_per_instance,min_seconds,max_seconds\n";
    double lo = 1e9, hi = -1e9;
    for (const ip::ScaleResult& s : p.scales) {
      const double x = scale_x(s);
      for (const ip::FunctionStat& f : ip::function_stats(s, ip::Stat::Mean)) {
        Series& se = by_key[f.key];
        se.label = f.label, se.group = f.group, se.order = f.order;
        if (std::isfinite(f.per_instance) && f.per_instance > 0) {
          se.points.emplace_back(x, f.per_instance);
          lo = std::min(lo, x), hi = std::max(hi, x);
        }
        csv += csv_field(p.name) + "," + std::to_string(s.pred_items) + "," + std::to_string(s.scale) + "," +
               csv_field(f.label) + "," + csv_field(f.key) + "," + f.group + "," + std::to_string(f.runs) + "," +
               csv_number(f.per_instance) + "," + csv_number(f.min_s) + "," + csv_number(f.max_s) + "\n";
      }
    }
    std::vector<Series> series;
    for (auto& [key, se] : by_key)
      if (!se.points.empty()) series.push_back(std::move(se));
    if (series.empty()) {
      notes_.push_back(p.name + ": no timings to draw");
      return;
    }
    std::sort(series.begin(), series.end(), [](const Series& a, const Series& b) { return a.order < b.order; });
    // Colours and point types are fixed before drawing: the body runs once per output format.
    std::map<std::string, int> in_group, seen;
    for (const Series& se : series) ++in_group[se.group];
    std::vector<std::string> style;
    for (const Series& se : series) {
      const int idx = seen[se.group]++;
      const bool identity = se.group == "identity";
      style.push_back(" lc rgb " + q(plots::group_colour(se.group, idx, in_group[se.group])) + " lw " +
                      (identity ? "3" : "1.5") + " pt " + std::to_string(identity ? 7 : 1 + idx % 13) +
                      " ps 0.7 dt " + (se.group == "dropout" ? "2" : "1"));
    }

    const std::string stem = "cost_" + plots::file_safe(p.name);
    emit(stem, 1100, 720, csv, [&](Gnuplot& gp) {
      gp << "set title " << q("Seconds per instance — " + p.name + " (" + p.hardware_name + ", " + p.device + ")")
         << " noenhanced\n"
         << "set xlabel 'instances predicted'\nset ylabel 'seconds per instance (log scale)'\n"
         << "set logscale y\nset format y '10^{%L}'\nset grid xtics ytics mytics lc rgb '#dddddd'\n"
         << "set key outside right top vertical Left reverse noenhanced font ',9' spacing 0.95\n"
         << "set xrange [" << lo - 0.2 << ":" << hi + 0.2 << "]\n"
         << scale_tics(lo, hi) << "plot ";
      for (std::size_t i = 0; i < series.size(); ++i)
        gp << (i ? ", " : "") << "'-' using 1:2 with linespoints title " << q(series[i].label) << style[i];
      gp << "\n";
      for (const Series& se : series) gp.send1d(se.points);
    });
  }

  // (1b) every function's cost relative to Identity with its 95% interval, one series per scale
  // measured in rounds, functions ordered by their cost at the largest such scale.
  void relative_cost(const ip::Platform& p) {
    std::vector<ip::ScaleCosts> scales;
    for (const ip::ScaleResult& s : p.scales)
      if (s.has_rounds && !s.samples.empty()) scales.push_back(ip::scale_costs(s));
    if (scales.empty()) return;
    std::vector<const ip::FunctionCost*> order;
    for (const ip::FunctionCost& f : scales.back().functions) order.push_back(&f);
    std::stable_sort(order.begin(), order.end(), [](const ip::FunctionCost* a, const ip::FunctionCost* b) {
      return a->relative.value < b->relative.value;
    });
    std::map<std::string, int> x_of;
    std::string tics = "set xtics (";
    for (size_t i = 0; i < order.size(); ++i) {
      x_of[order[i]->key] = static_cast<int>(i);
      tics += (i ? ", " : "") + q(order[i]->label + (order[i]->control ? " (control)" : "")) + " " + std::to_string(i);
    }
    tics += ") rotate by 60 right font ',9' noenhanced\n";
    std::string csv = "platform,scale,pred_items,function,key,group,rounds,relative,ci_low,ci_high,verdict,control\n";
    struct Series {
      std::string title, colour;
      std::vector<std::tuple<double, double, double, double>> points;
    };
    std::vector<Series> series;
    for (size_t si = 0; si < scales.size(); ++si) {
      const ip::ScaleCosts& c = scales[si];
      const double nudge = scales.size() > 1 ? 0.3 * (static_cast<double>(si) / (scales.size() - 1) - 0.5) : 0;
      Series se{"10^" + std::to_string(c.scale) + " (" + std::to_string(c.rounds) + " rounds" +
                    (c.controls.controls && !c.controls.passed ? ", controls NOISY" : "") + ")",
                plots::hsv(0.58 + 0.25 * si / std::max<size_t>(1, scales.size() - 1), 0.8, 0.75), {}};
      for (const ip::FunctionCost& f : c.functions) {
        csv += csv_field(p.name) + "," + std::to_string(c.scale) + "," + std::to_string(c.pred_items) + "," +
               csv_field(f.label) + "," + csv_field(f.key) + "," + f.group + "," + std::to_string(f.rounds) + "," +
               csv_number(f.relative.value) + "," + csv_number(f.relative.low) + "," + csv_number(f.relative.high) +
               "," + (f.reference ? "reference" : ip::verdict_name(f.verdict)) + "," + (f.control ? "true" : "false") +
               "\n";
        const auto x = x_of.find(f.key);
        if (x == x_of.end() || !std::isfinite(f.relative.value)) continue;
        se.points.emplace_back(x->second + nudge, f.relative.value,
                               f.relative.has_interval() ? f.relative.low : f.relative.value,
                               f.relative.has_interval() ? f.relative.high : f.relative.value);
      }
      series.push_back(std::move(se));
    }
    emit("relative_cost_" + plots::file_safe(p.name), 1200, 650, csv, [&](Gnuplot& gp) {
      gp << "set title " << q("Cost relative to Identity, whole network, 95% CI — " + p.name + " (" +
                              p.hardware_name + ")")
         << " noenhanced\n"
         << "set ylabel 'time / Identity''s time in the same round'\nset grid ytics lc rgb '#dddddd'\n"
         << "set key top left noenhanced font ',9'\nset bmargin 9\n"
         << "set xrange [-0.7:" << order.size() - 0.3 << "]\n" << tics
         << "plot 1 with lines lc rgb '#000000' dt 3 title 'Identity = 1'";
      for (const Series& se : series)
        gp << ", '-' using 1:2:3:4 with yerrorbars title " << q(se.title) << " lc rgb " << q(se.colour)
           << " pt 7 ps 0.6 lw 1.5";
      gp << "\n";
      for (const Series& se : series) gp.send1d(se.points);
    });
  }

  // (2) slowest/fastest within the activation and the dropout group, per scale and platform.
  void group_spread() {
    std::string csv = "platform,pred_items,scale,group,functions,ratio,fastest,slowest,median_based_ratio,ci_low,ci_high\n";
    struct Line {
      std::string title, colour;
      bool dropout;
      std::vector<std::tuple<double, double, double, double>> points;  // x, ratio, CI low, CI high
    };
    std::vector<Line> lines;
    double lo = 1e9, hi = -1e9;
    int ours = 0, theirs = 0;
    for (const ip::Platform& p : loaded_.platforms()) {
      const bool paper = p.name.rfind("paper:", 0) == 0;
      const std::string colour = platform_colour(paper ? theirs++ : ours++, paper);
      Line act{p.name + " activations", colour, false, {}}, drop{p.name + " dropouts", colour, true, {}};
      for (const ip::ScaleResult& s : p.scales) {
        const auto fs = ip::function_stats(s, ip::Stat::Mean);
        const ip::GroupSummary g = summary_of(s);
        for (Line* l : {&act, &drop}) {
          const std::string group = l->dropout ? "dropout" : "activation";
          ip::Spread sp = ip::spread_of(fs, group);
          const ip::Estimate& e = l->dropout ? g.dropout_spread : g.activation_spread;
          csv += csv_field(p.name) + "," + std::to_string(s.pred_items) + "," + std::to_string(s.scale) + "," +
                 group + "," + std::to_string(sp.n) + "," + csv_number(sp.ratio) + "," + sp.fastest + "," +
                 sp.slowest + "," + csv_number(e.value) + "," + csv_number(e.low) + "," + csv_number(e.high) + "\n";
          if (sp.n >= 2 && std::isfinite(sp.ratio)) {
            // The paper's statistic (means over runs) with the interval of its median-based twin.
            l->points.emplace_back(scale_x(s), sp.ratio, e.has_interval() ? e.low : sp.ratio,
                                   e.has_interval() ? e.high : sp.ratio);
            lo = std::min(lo, scale_x(s)), hi = std::max(hi, scale_x(s));
          }
        }
      }
      for (Line* l : {&act, &drop})
        if (!l->points.empty()) lines.push_back(std::move(*l));
    }
    if (lines.empty()) {
      notes_.push_back("group spread: no scale has two functions of one group");
      return;
    }
    emit("group_spread", 1000, 600, csv, [&](Gnuplot& gp) {
      gp << "set title 'Spread within a group: slowest / fastest time per instance (bars: 95% CI, bootstrap over runs)'\n"
         << "set xlabel 'instances predicted'\nset ylabel 'max / min time (log scale)'\n"
         << "set logscale y\nset grid xtics ytics lc rgb '#dddddd'\n"
         << "set key outside right top vertical Left reverse noenhanced font ',9'\n"
         << "set xrange [" << lo - 0.2 << ":" << hi + 0.2 << "]\n" << scale_tics(lo, hi) << "plot ";
      for (std::size_t i = 0; i < lines.size(); ++i)
        gp << (i ? ", " : "") << "'-' using 1:2:3:4 with yerrorlines title " << q(lines[i].title) << " lc rgb "
           << q(lines[i].colour) << " lw 2 pt " << (lines[i].dropout ? 6 : 7) << " dt "
           << (lines[i].dropout ? 2 : 1);
      gp << "\n";
      for (const Line& l : lines) gp.send1d(l.points);
    });
  }

  // (3) mean over activations of time / Identity's time, with the standard deviation.
  void relative_to_identity() {
    std::string csv = "platform,pred_items,scale,activations,mean_ratio,std_ratio,min_ratio,max_ratio,"
                      "median_based_mean,ci_low,ci_high\n";
    struct Line {
      std::string title, colour;
      std::vector<std::tuple<double, double, double, double>> points;  // x, mean, CI low, CI high
    };
    std::vector<Line> lines;
    double lo = 1e9, hi = -1e9;
    int ours = 0, theirs = 0, index = 0;
    const int count = static_cast<int>(loaded_.platforms().size());
    for (const ip::Platform& p : loaded_.platforms()) {
      const bool paper = p.name.rfind("paper:", 0) == 0;
      Line l{p.name, platform_colour(paper ? theirs++ : ours++, paper), {}};
      // Platforms are nudged apart on x so that their error bars do not hide each other.
      const double nudge = count > 1 ? 0.12 * (index++ - (count - 1) / 2.0) / (count - 1) * 2 : 0;
      for (const ip::ScaleResult& s : p.scales) {
        ip::Relative r = ip::relative_of(ip::function_stats(s, ip::Stat::Mean));
        const ip::Estimate e = summary_of(s).activation_mean_relative;
        csv += csv_field(p.name) + "," + std::to_string(s.pred_items) + "," + std::to_string(s.scale) + "," +
               std::to_string(r.n) + "," + csv_number(r.mean) + "," + csv_number(r.std) + "," +
               csv_number(r.min) + "," + csv_number(r.max) + "," + csv_number(e.value) + "," +
               csv_number(e.low) + "," + csv_number(e.high) + "\n";
        if (r.n > 0) {
          l.points.emplace_back(scale_x(s) + nudge, r.mean, e.has_interval() ? e.low : r.mean,
                                e.has_interval() ? e.high : r.mean);
          lo = std::min(lo, scale_x(s)), hi = std::max(hi, scale_x(s));
        }
      }
      if (!l.points.empty()) lines.push_back(std::move(l));
    }
    if (lines.empty()) {
      notes_.push_back("relative to Identity: no scale has Identity and an activation");
      return;
    }
    emit("relative_to_identity", 1000, 600, csv, [&](Gnuplot& gp) {
      gp << "set title 'Activations'' time relative to Identity (mean; bars: 95% CI, bootstrap over runs)'\n"
         << "set xlabel 'instances predicted'\nset ylabel 'time / Identity time'\nset yrange [0:*]\n"
         << "set grid xtics ytics lc rgb '#dddddd'\n"
         << "set key outside right top vertical Left reverse noenhanced font ',9'\n"
         << "set xrange [" << lo - 0.3 << ":" << hi + 0.3 << "]\n" << scale_tics(lo, hi)
         << "plot 1 with lines lc rgb '#000000' dt 3 title 'Identity = 1'";
      for (const Line& l : lines)
        gp << ", '-' using 1:2:3:4 with yerrorlines title " << q(l.title) << " lc rgb " << q(l.colour)
           << " lw 2 pt 7 ps 0.8";
      gp << "\n";
      for (const Line& l : lines) gp.send1d(l.points);
    });
  }

  // (4) MNIST time to the target accuracy: bars sorted by time, grey when never reached.
  void mnist_time(const ip::MnistSet& m) {
    const std::vector<ip::MnistStat> stats = ip::mnist_stats(m);
    if (stats.empty()) return;
    const double target = m.runs.front().target_accuracy;
    std::string csv = "platform,dataset,rank,function,torch_key,group,runs,runs_reached_target,mean_seconds,"
                      "std_seconds,mean_accuracy\n";
    std::vector<std::tuple<double, double, double, int>> bars;  // x, mean, std, colour
    std::string tics = "set xtics (";
    for (std::size_t i = 0; i < stats.size(); ++i) {
      const ip::MnistStat& s = stats[i];
      csv += csv_field(m.name) + "," + m.dataset + "," + std::to_string(i + 1) + "," + csv_field(s.label) + "," +
             csv_field(s.key) + "," + s.group + "," + std::to_string(s.runs) + "," + std::to_string(s.reached) + "," +
             csv_number(s.mean_s) + "," + csv_number(s.std_s) + "," + csv_number(s.mean_accuracy) + "\n";
      // Grey only when no run reached the target; otherwise the group's colour.
      std::string colour = s.group == "activation" ? "#3a6fb0" : plots::group_colour(s.group, 0, 1);
      if (s.reached == 0) colour = "#b0b0b0";
      bars.emplace_back(static_cast<double>(i), s.mean_s, std::isfinite(s.std_s) ? s.std_s : 0.0,
                        std::stoi(colour.substr(1), nullptr, 16));
      tics += std::string(i ? ", " : "") + q(s.label) + " " + std::to_string(i);
    }
    tics += ") rotate by 60 right noenhanced font ',9'\n";
    const std::string stem = "mnist_time_" + plots::file_safe(m.name) + (m.dataset == "mnist" ? "" : "_" + m.dataset);
    char title[256];
    std::snprintf(title, sizeof title, "%s: training time to %.0f%% test accuracy — %s (%zu run%s)",
                  m.dataset == "mnist" ? "MNIST" : m.dataset.c_str(), target * 100, m.name.c_str(), m.runs.size(),
                  m.runs.size() == 1 ? "" : "s");
    emit(stem, 1000, 600, csv, [&](Gnuplot& gp) {
      gp << "set title " << q(title) << " noenhanced\n"
         << "set ylabel 'seconds in training steps'\nset yrange [0:*]\nset grid ytics lc rgb '#dddddd'\n"
         << "set style fill solid 0.85 border rgb '#404040'\nset boxwidth 0.75\n"
         << "set key inside left top font ',9'\nset xrange [-0.7:" << stats.size() - 0.3 << "]\n"
         << "set bmargin 7\n" << tics
         << "plot '-' using 1:2:4 with boxes lc rgb variable notitle, "
         << "'-' using 1:2:3 with yerrorbars lc rgb '#000000' pt 0 ps 0 lw 1.2 title 'std. dev. over runs', "
         << "keyentry with boxes fc rgb '#3a6fb0' title 'activation', "
         << "keyentry with boxes fc rgb " << q(plots::group_colour("dropout", 0, 1)) << " title 'dropout', "
         << "keyentry with boxes fc rgb '#000000' title 'Identity', "
         << "keyentry with boxes fc rgb '#b0b0b0' title 'never reached the target'\n";
      gp.send1d(bars);
      gp.send1d(bars);
    });
  }

  // (5a) effective GB/s of each kernel (forward, backward) against the copy bandwidth.
  void kernel_throughput(const ip::KernelBenchFile& k) {
    const nlohmann::json& rows = k.data["kernels"];
    std::set<std::string> devices;
    for (const auto& r : rows) devices.insert(r.value("device", std::string("?")));
    for (const std::string& device : devices) {
      // One configuration per figure: the most threads, the SIMD target the machine dispatches
      // to (else the first listed), the largest size.
      int threads = 0;
      double elements = 0;
      std::string target;
      const std::string dispatch =
          k.data.contains("hardware") ? k.data["hardware"].value("simd_target", std::string()) : "";
      for (const auto& r : rows)
        if (r.value("device", std::string("?")) == device) threads = std::max(threads, r.value("threads", 0));
      for (const auto& r : rows) {
        if (r.value("device", std::string("?")) != device || r.value("threads", 0) != threads) continue;
        std::string t = r.value("target", std::string());
        if (target.empty() || (t == dispatch && target != dispatch)) target = t;
      }
      for (const auto& r : rows)
        if (r.value("device", std::string("?")) == device && r.value("threads", 0) == threads &&
            r.value("target", std::string()) == target)
          elements = std::max(elements, r.value("elements", 0.0));
      struct Bar {
        std::string function, group;
        double fwd = ip::kNaN, bwd = ip::kNaN;
      };
      std::vector<Bar> bars;
      std::vector<double> copies;
      std::string csv = "source,device,target,threads,elements,function,direction,gb_per_s,copy_gb_per_s,fraction_of_copy\n";
      for (const auto& r : rows) {
        if (r.value("device", std::string("?")) != device || r.value("threads", 0) != threads ||
            r.value("target", std::string()) != target || r.value("elements", 0.0) != elements)
          continue;
        const std::string fn = r.value("function", std::string("?")), dir = r.value("direction", std::string());
        const double gbps = r.value("gb_per_s", ip::kNaN), copy = r.value("copy_gb_per_s", ip::kNaN);
        csv += csv_field(k.name) + "," + device + "," + target + "," + std::to_string(threads) + "," +
               csv_number(elements) + "," + csv_field(fn) + "," + dir + "," + csv_number(gbps) + "," +
               csv_number(copy) + "," + csv_number(r.value("fraction_of_copy", ip::kNaN)) + "\n";
        if (fn.rfind("copy", 0) == 0) {  // "copy", or kernel_bench's "copy:memcpy" and "copy:vector"
          copies.push_back(std::isfinite(copy) ? copy : gbps);  // the reference: the faster copy
          continue;
        }
        auto it = std::find_if(bars.begin(), bars.end(), [&](const Bar& b) { return b.function == fn; });
        if (it == bars.end()) {
          bars.push_back({fn, ip::group_name_of_key(r.value("key", std::string())), ip::kNaN, ip::kNaN});
          it = bars.end() - 1;
        }
        (dir == "backward" ? it->bwd : it->fwd) = gbps;
        if (std::isfinite(copy)) copies.push_back(copy);
      }
      if (bars.empty()) continue;
      const double copy = ip::summarise(copies, ip::Stat::Median);
      std::vector<std::pair<double, double>> fwd, bwd;
      std::string tics = "set xtics (";
      for (std::size_t i = 0; i < bars.size(); ++i) {
        if (std::isfinite(bars[i].fwd)) fwd.emplace_back(i - 0.2, bars[i].fwd);
        if (std::isfinite(bars[i].bwd)) bwd.emplace_back(i + 0.2, bars[i].bwd);
        tics += std::string(i ? ", " : "") + q(bars[i].function) + " " + std::to_string(i);
      }
      tics += ") rotate by 60 right noenhanced font ',9'\n";
      char title[256];
      std::snprintf(title, sizeof title, "Kernel throughput — %s %s, %s, %d thread%s, %.0f elements", k.name.c_str(),
                    device.c_str(), target.c_str(), threads, threads == 1 ? "" : "s", elements);
      emit("kernel_throughput_" + plots::file_safe(k.name) + "_" + device, 1100, 600, csv, [&](Gnuplot& gp) {
        gp << "set title " << q(title) << " noenhanced\n"
           << "set ylabel 'effective GB/s (bytes read + written)'\nset yrange [0:*]\n"
           << "set grid ytics lc rgb '#dddddd'\nset style fill solid 0.85 noborder\nset boxwidth 0.4\n"
           << "set key outside top center horizontal font ',9'\nset bmargin 7\n"
           << "set xrange [-0.7:" << bars.size() - 0.3 << "]\n" << tics << "plot '-' using 1:2 with boxes lc rgb "
           << q("#3a6fb0") << " title 'forward', '-' using 1:2 with boxes lc rgb " << q("#9ec3ea")
           << " title 'backward'";
        if (std::isfinite(copy))
          gp << ", " << copy << " with lines lc rgb '#d62728' lw 2 dt 2 title "
             << q("copy " + csv_number(std::round(copy * 10) / 10) + " GB/s");
        gp << "\n";
        gp.send1d(fwd.empty() ? std::vector<std::pair<double, double>>{{0, ip::kNaN}} : fwd);
        gp.send1d(bwd.empty() ? std::vector<std::pair<double, double>>{{0, ip::kNaN}} : bwd);
      });
    }
  }

  // (5b) joules per instance per function at the largest scale with energy readings.
  void energy(const ip::Platform& p) {
    const ip::ScaleResult* chosen = nullptr;
    std::vector<ip::FunctionStat> stats;
    for (const ip::ScaleResult& s : p.scales) {
      auto fs = ip::function_stats(s, ip::Stat::Mean);
      if (std::any_of(fs.begin(), fs.end(), [](const ip::FunctionStat& f) { return std::isfinite(f.joules_per_instance); }))
        chosen = &s, stats = std::move(fs);
    }
    if (!chosen) {
      notes_.push_back(p.name + ": no energy readings (no meter measured this platform), no energy figure");
      return;
    }
    stats.erase(std::remove_if(stats.begin(), stats.end(),
                               [](const ip::FunctionStat& f) { return !std::isfinite(f.joules_per_instance); }),
                stats.end());
    std::string csv = "platform,pred_items,function,torch_key,group,joules_per_instance,quality\n";
    std::vector<std::tuple<double, double, int>> measured, estimated;
    std::string tics = "set xtics (";
    for (std::size_t i = 0; i < stats.size(); ++i) {
      const ip::FunctionStat& f = stats[i];
      csv += csv_field(p.name) + "," + std::to_string(chosen->pred_items) + "," + csv_field(f.label) + "," +
             csv_field(f.key) + "," + f.group + "," + csv_number(f.joules_per_instance) + "," + f.energy_quality + "\n";
      const std::string c = f.group == "identity" ? "#000000" : f.group == "dropout" ? "#d9480f" : "#3a6fb0";
      // Anything not wholly measured is drawn hatched: an estimate must never look like a reading.
      (f.energy_quality == "measured" ? measured : estimated)
          .emplace_back(static_cast<double>(i), f.joules_per_instance, std::stoi(c.substr(1), nullptr, 16));
      tics += std::string(i ? ", " : "") + q(f.label) + " " + std::to_string(i);
    }
    tics += ") rotate by 60 right noenhanced font ',9'\n";
    auto or_empty = [](const std::vector<std::tuple<double, double, int>>& v) {
      return v.empty() ? std::vector<std::tuple<double, double, int>>{{0, ip::kNaN, 0}} : v;
    };
    emit("energy_" + plots::file_safe(p.name), 1000, 600, csv, [&](Gnuplot& gp) {
      gp << "set title " << q("Energy per instance at " + std::to_string(chosen->pred_items) + " instances — " + p.name)
         << " noenhanced\nset ylabel 'joules per instance'\nset yrange [0:*]\nset grid ytics lc rgb '#dddddd'\n"
         << "set boxwidth 0.75\nset key inside left top font ',9'\nset bmargin 7\n"
         << "set xrange [-0.7:" << stats.size() - 0.3 << "]\n" << tics
         << "plot '-' using 1:2:3 with boxes fs solid 0.85 lc rgb variable title 'measured', "
         << "'-' using 1:2:3 with boxes fs pattern 4 lc rgb variable title 'estimated (hatched)'\n";
      gp.send1d(or_empty(measured));
      gp.send1d(or_empty(estimated));
    });
  }

  // (5c) where a prediction's time goes: GEMM vs the function vs dropout, stacked per function.
  void breakdown(const ip::PlatformBreakdown& b) {
    int scale = -1;
    for (const ip::BreakdownRow& r : b.rows) scale = std::max(scale, r.scale);
    struct Acc {
      std::vector<double> gemm, act, drop;
    };
    std::map<std::string, Acc> by_key;
    for (const ip::BreakdownRow& r : b.rows)
      if (r.scale == scale) {
        Acc& a = by_key[r.key];
        a.gemm.push_back(r.gemm), a.act.push_back(r.activation), a.drop.push_back(r.dropout);
      }
    struct Bar {
      std::string label, key, group;
      int order;
      double gemm, act, drop;
    };
    std::vector<Bar> bars;
    const double items = std::pow(10.0, scale);
    for (const auto& [key, a] : by_key) {
      const std::string group = ip::group_name_of_key(key);
      const ip::FunctionInfo* info = ip::find_function_by_key(key);
      bars.push_back({ip::function_label(key), key, group,
                      ip::group_rank(group) * 1000 + (info ? static_cast<int>(info->id) : 999),
                      ip::summarise(a.gemm, ip::Stat::Mean) / items, ip::summarise(a.act, ip::Stat::Mean) / items,
                      ip::summarise(a.drop, ip::Stat::Mean) / items});
    }
    std::sort(bars.begin(), bars.end(), [](const Bar& x, const Bar& y) { return x.order < y.order; });
    std::string csv = "platform,pred_items,function,torch_key,group,gemm_seconds_per_instance,"
                      "function_seconds_per_instance,dropout_seconds_per_instance\n";
    std::vector<std::pair<double, double>> total, lower, gemm;
    std::string tics = "set xtics (";
    for (std::size_t i = 0; i < bars.size(); ++i) {
      const Bar& x = bars[i];
      csv += csv_field(b.platform) + "," + csv_number(items) + "," + csv_field(x.label) + "," + csv_field(x.key) +
             "," + x.group + "," + csv_number(x.gemm) + "," + csv_number(x.act) + "," + csv_number(x.drop) + "\n";
      // Stacked by overdrawing: the full height first, then GEMM + function, then GEMM alone.
      total.emplace_back(i, x.gemm + x.act + x.drop);
      lower.emplace_back(i, x.gemm + x.act);
      gemm.emplace_back(i, x.gemm);
      tics += std::string(i ? ", " : "") + q(x.label) + " " + std::to_string(i);
    }
    tics += ") rotate by 60 right noenhanced font ',9'\n";
    emit("breakdown_" + plots::file_safe(b.platform), 1000, 600, csv, [&](Gnuplot& gp) {
      gp << "set title " << q("Time breakdown at 10^" + std::to_string(scale) + " instances — " + b.platform)
         << " noenhanced\nset ylabel 'seconds per instance'\nset yrange [0:*]\nset grid ytics lc rgb '#dddddd'\n"
         << "set style fill solid 0.9 border rgb '#404040'\nset boxwidth 0.75\n"
         << "set key outside top center horizontal font ',9'\nset bmargin 7\n"
         << "set xrange [-0.7:" << bars.size() - 0.3 << "]\n" << tics
         << "plot '-' using 1:2 with boxes lc rgb '#f4a261' title 'dropout layers', "
         << "'-' using 1:2 with boxes lc rgb '#3a6fb0' title 'activation layers', "
         << "'-' using 1:2 with boxes lc rgb '#bbbbbb' title 'GEMM (Linear layers)'\n";
      gp.send1d(total);
      gp.send1d(lower);
      gp.send1d(gemm);
    });
  }

  const Options& opt_;
  const ip::ResultLoader& loaded_;
  std::vector<plots::Format> formats_;
  std::vector<std::string> written_, notes_;
};

// Loads the data folder's reference runs and results, and the paper's files when asked.
void load(const Options& opt, ip::ResultLoader& loader) {
  std::error_code ec;
  if (!opt.inputs.empty()) {
    for (const std::string& in : opt.inputs) loader.add_path(in, "", true);
    return;
  }
  const fs::path reference = fs::path(opt.data) / "reference";
  if (fs::is_directory(reference, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(reference, ec))
      if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& d : dirs) loader.add_path(d.string(), d.filename().string(), true);
  }
  const fs::path results = fs::path(opt.data) / "results";
  if (fs::is_directory(results, ec)) {
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
  Figures figures(opt, loader, formats);
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
