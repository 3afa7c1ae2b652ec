// The rand experiment's figures: cost per instance, every cost relative to Identity with its
// interval, the spread within a group, the activations' mean relative cost.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "plots/figures.h"

using gnuplotio::Gnuplot;
using plots::csv_field;
using plots::csv_number;
using plots::q;

namespace figures {

// (1) seconds per instance against 10^n, one line per function (the paper's dc_cpu figure).
void Figures::cost_per_instance(const ip::Platform& p) {
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
void Figures::relative_cost(const ip::Platform& p) {
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
void Figures::group_spread() {
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
void Figures::relative_to_identity() {
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

}  // namespace figures
