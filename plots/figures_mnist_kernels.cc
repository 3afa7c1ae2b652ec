// MNIST time to accuracy, kernel throughput, energy per instance and the time breakdown.
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

namespace {

// A function's bar colour in the MNIST figures, as gnuplot's "rgb variable" integer.
int bar_colour(const std::string& group) {
  const std::string colour = group == "activation" ? "#3a6fb0" : plots::group_colour(group, 0, 1);
  return std::stoi(colour.substr(1), nullptr, 16);
}
constexpr int kNeverReached = 0xb0b0b0;

// The x axis: one slanted label per bar, in order.
std::string label_tics(const std::vector<std::string>& labels) {
  std::string tics = "set xtics (";
  for (std::size_t i = 0; i < labels.size(); ++i)
    tics += std::string(i ? ", " : "") + q(labels[i]) + " " + std::to_string(i);
  return tics + ") rotate by 60 right noenhanced font ',9'\n";
}

// "mnist_time_<platform>[_<dataset>]" and "MNIST" or the data set's name, for stems and titles.
std::string mnist_stem(const std::string& figure, const ip::MnistSet& m) {
  return figure + "_" + plots::file_safe(m.name) + (m.dataset == "mnist" ? "" : "_" + m.dataset);
}
const char* dataset_title(const ip::MnistSet& m) { return m.dataset == "mnist" ? "MNIST" : m.dataset.c_str(); }

// "<data set><what> to 90% test accuracy — <platform> (3 runs)<after>": the MNIST figures' titles.
std::string accuracy_title(const ip::MnistSet& m, double target, const std::string& what, const std::string& after) {
  char middle[64];
  std::snprintf(middle, sizeof middle, " to %.0f%% test accuracy — ", target * 100);
  const std::size_t runs = m.runs.size();
  return dataset_title(m) + what + middle + m.name + " (" + std::to_string(runs) + " run" + (runs == 1 ? "" : "s") +
         ")" + after;
}

}  // namespace

// (4) MNIST time to the target accuracy: bars sorted by time, grey when never reached.
void Figures::mnist_time(const ip::MnistSet& m) {
  const std::vector<ip::MnistStat> stats = ip::mnist_stats(m);
  if (stats.empty()) return;
  const double target = m.runs.front().target_accuracy;
  std::string csv = "platform,dataset,rank,function,torch_key,group,runs,runs_reached_target,mean_seconds,"
                    "std_seconds,mean_accuracy\n";
  std::vector<std::tuple<double, double, double, int>> bars;  // x, mean, std, colour
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const ip::MnistStat& s = stats[i];
    csv += csv_field(m.name) + "," + m.dataset + "," + std::to_string(i + 1) + "," + csv_field(s.label) + "," +
           csv_field(s.key) + "," + s.group + "," + std::to_string(s.runs) + "," + std::to_string(s.reached) + "," +
           csv_number(s.mean_s) + "," + csv_number(s.std_s) + "," + csv_number(s.mean_accuracy) + "\n";
    // Grey only when no run reached the target; otherwise the group's colour.
    bars.emplace_back(static_cast<double>(i), s.mean_s, std::isfinite(s.std_s) ? s.std_s : 0.0,
                      s.reached == 0 ? kNeverReached : bar_colour(s.group));
    labels.push_back(s.label);
  }
  const std::string tics = label_tics(labels);
  const std::string stem = mnist_stem("mnist_time", m);
  const std::string title = accuracy_title(m, target, ": training time", "");
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

// (4b) epochs to the target over seconds per epoch: what the function and the optimiser decide
// apart from what the machine charges, which the paper's times mix.
void Figures::mnist_epochs(const ip::MnistSet& m, const ip::MnistSet* paper) {
  const std::vector<ip::MnistEpochStat> stats = ip::mnist_epoch_stats(m);
  if (stats.empty()) return;
  const double target = m.runs.front().target_accuracy;
  const int limit = stats.front().max_epochs;
  ip::PaperEpochCost theirs;
  if (paper) theirs = ip::paper_epochs(*paper, limit);
  auto paper_of = [&](const std::string& key) -> const ip::PaperEpochs* {
    for (const ip::PaperEpochs& p : theirs.functions)
      if (p.key == key) return &p;
    return nullptr;
  };
  std::string csv = "platform,dataset,function,torch_key,group,runs,runs_reached_target,mean_epochs,min_epochs,"
                    "max_epochs,final_accuracy,epoch_runs,epoch_seconds,epoch_seconds_min_run,"
                    "epoch_seconds_max_run,paper_seconds,paper_accuracy,paper_epochs,paper_epochs_lo,"
                    "paper_epochs_hi\n";
  // x, value, low, high, colour
  std::vector<std::tuple<double, double, double, double, int>> epochs, seconds, paper_points;
  std::vector<std::tuple<double, double, std::string>> notes;  // x, y, text
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const ip::MnistEpochStat& s = stats[i];
    const ip::PaperEpochs* p = paper_of(s.key);
    csv += csv_field(m.name) + "," + m.dataset + "," + csv_field(s.label) + "," + csv_field(s.key) + "," + s.group +
           "," + std::to_string(s.runs) + "," + std::to_string(s.reached) + "," + csv_number(s.mean_epochs) + "," +
           csv_number(s.min_epochs) + "," + csv_number(s.max_epochs_seen) + "," + csv_number(s.final_accuracy) +
           "," + std::to_string(s.epoch_runs) + "," + csv_number(s.epoch_seconds) + "," +
           csv_number(s.epoch_seconds_lo) + "," + csv_number(s.epoch_seconds_hi) + "," +
           csv_number(p ? p->seconds : ip::kNaN) + "," + csv_number(p ? p->accuracy : ip::kNaN) + "," +
           csv_number(p && p->derivable ? p->epochs : ip::kNaN) + "," +
           csv_number(p && p->derivable ? p->epochs_lo : ip::kNaN) + "," +
           csv_number(p && p->derivable ? p->epochs_hi : ip::kNaN) + "\n";
    const double x = static_cast<double>(i);
    if (s.reached > 0) {
      epochs.emplace_back(x, s.mean_epochs, s.min_epochs, s.max_epochs_seen, bar_colour(s.group));
      if (s.reached < s.runs) notes.emplace_back(x, s.max_epochs_seen, std::to_string(s.reached) + "/" + std::to_string(s.runs));
    } else if (s.runs > 0) {
      epochs.emplace_back(x, limit, limit, limit, kNeverReached);
      char acc[32];
      std::snprintf(acc, sizeof acc, "%.2f", s.final_accuracy);
      notes.emplace_back(x, limit, acc);
    }
    if (std::isfinite(s.epoch_seconds))
      seconds.emplace_back(x, s.epoch_seconds, s.epoch_seconds_lo, s.epoch_seconds_hi, bar_colour(s.group));
    if (p && p->derivable) paper_points.emplace_back(x + 0.25, p->epochs, p->epochs_lo, std::min<double>(p->epochs_hi, limit), 0);
    else if (p && p->reached) notes.emplace_back(x + 0.25, limit * 0.93, "paper: >" + std::to_string(limit));
    labels.push_back(s.label);
  }
  const std::string tics = label_tics(labels);
  const std::string stem = mnist_stem("mnist_epochs", m);
  const std::string title = accuracy_title(m, target, "", ": epochs (top), seconds per epoch (bottom)");
  const double xmax = stats.size() - 0.3;
  emit(stem, 1100, 900, csv, [&](Gnuplot& gp) {
    gp << "set multiplot title " << q(title) << " noenhanced\n"
       << "set lmargin 10\nset rmargin 3\nset xrange [-0.7:" << xmax << "]\nset grid ytics lc rgb '#dddddd'\n"
       << "set style fill solid 0.85 border rgb '#404040'\nset boxwidth 0.5\n"
       // Top: epochs.
       << "set size 1,0.5\nset origin 0,0.47\nset bmargin 1\nset tmargin 3\nunset xtics\n"
       << "set ylabel 'epochs to " << static_cast<int>(target * 100) << "%'\nset yrange [0:" << limit * 1.12 << "]\n"
       << "set key outside top center horizontal font ',9'\n";
    for (const auto& [x, y, text] : notes)
      gp << "set label " << q(text) << " at " << x << "," << y + limit * 0.03 << " center front font ',8' noenhanced\n";
    // Runs that all stopped early say nothing about epochs to the target.
    if (epochs.empty()) epochs.emplace_back(-10, 0, 0, 0, 0);
    gp << "plot '-' using 1:2:5 with boxes lc rgb variable notitle, "
       << "'-' using 1:2:3:4 with yerrorbars lc rgb '#000000' pt 0 ps 0 lw 1.2 title 'range over runs', "
       << "keyentry with boxes fc rgb '#b0b0b0' title 'never reached (final accuracy above)'";
    if (!paper_points.empty())
      gp << ", '-' using 1:2:3:4 with yerrorbars lc rgb '#c0392b' pt 7 ps 0.7 lw 1 title "
         << q("the paper's, derived from its times (range: its per-epoch costs)");
    gp << "\n";
    gp.send1d(epochs);
    gp.send1d(epochs);
    if (!paper_points.empty()) gp.send1d(paper_points);
    // Bottom: seconds per epoch.
    gp << "unset label\nset size 1,0.47\nset origin 0,0\nset tmargin 0.5\nset bmargin 7\n" << tics
       << "set ylabel 'seconds per training epoch'\nunset key\n";
    if (seconds.empty()) {  // files written before per-epoch times were recorded, or the paper's
      gp << "set yrange [0:1]\nset label 'no per-epoch times in these files' at graph 0.5,0.5 center\n"
         << "plot -1 notitle\n";
    } else {
      gp << "set yrange [0:*]\nplot '-' using 1:2:5 with boxes lc rgb variable notitle, "
         << "'-' using 1:2:3:4 with yerrorbars lc rgb '#000000' pt 0 ps 0 lw 1.2 notitle\n";
      gp.send1d(seconds);
      gp.send1d(seconds);
    }
    gp << "unset multiplot\n";
  });
}

// (5a) effective GB/s of each kernel (forward, backward) against the copy bandwidth.
void Figures::kernel_throughput(const ip::KernelBenchFile& k) {
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
void Figures::energy(const ip::Platform& p) {
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
void Figures::breakdown(const ip::PlatformBreakdown& b) {
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

}  // namespace figures
