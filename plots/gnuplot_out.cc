#include "plots/gnuplot_out.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "experiments/common/cli.h"
#include "results/results.h"

namespace plots {

namespace fs = std::filesystem;

namespace {

// Asks gnuplot once whether it has a terminal (the cairo ones are optional in Debian's builds).
bool gnuplot_has_terminal(const std::string& name) {
  std::string cmd = "gnuplot -e \"set terminal\" 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  pclose(p);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first;
    if (words >> first && first == name) return true;
  }
  return false;
}

std::string terminal_line(const Format& f, int width, int height) {
  char size[96];
  if (f.terminal == "pdfcairo") {
    // pdfcairo sizes in inches; 100 px per inch keeps fonts in proportion with the PNG.
    std::snprintf(size, sizeof size, "size %.2fin,%.2fin", width / 100.0, height / 100.0);
    return "set terminal pdfcairo enhanced color font 'Helvetica,9' " + std::string(size);
  }
  std::snprintf(size, sizeof size, "size %d,%d", width, height);
  if (f.terminal == "svg")
    return "set terminal svg enhanced font 'Helvetica,12' background rgb 'white' " + std::string(size);
  return "set terminal pngcairo enhanced font 'Helvetica,10' background rgb 'white' " + std::string(size);
}

}  // namespace

bool gnuplot_installed() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((dir + "/gnuplot").c_str(), X_OK) == 0) return true;
  return false;
}

std::vector<Format> select_formats(const std::string& list, std::vector<std::string>& notes) {
  std::vector<std::string> names;
  if (list == "all") {
    names = {"svg", "png", "pdf"};
  } else {
    std::stringstream ss(list);
    for (std::string n; std::getline(ss, n, ',');)
      if (!n.empty()) names.push_back(n);
  }
  std::vector<Format> out;
  for (const std::string& n : names) {
    Format f;
    if (n == "svg") f = {"svg", "svg"};
    else if (n == "png") f = {"png", "pngcairo"};
    else if (n == "pdf") f = {"pdf", "pdfcairo"};
    else throw std::runtime_error("unknown format '" + n + "' (allowed: svg, png, pdf, all)");
    out.push_back(f);
  }
  if (out.empty()) throw std::runtime_error("--formats: no format in '" + list + "' (allowed: svg, png, pdf, all)");
  if (!gnuplot_installed()) throw std::runtime_error("gnuplot not found: apt-get install gnuplot-nox");
  std::vector<Format> drawable;
  for (const Format& f : out) {
    if (!gnuplot_has_terminal(f.terminal)) {
      notes.push_back("gnuplot has no " + f.terminal + " terminal; no ." + f.ext + " files");
      continue;
    }
    drawable.push_back(f);
  }
  if (drawable.empty()) throw std::runtime_error("none of the formats '" + list + "' can be drawn by this gnuplot");
  return drawable;
}

namespace {

// Why a figure's files could not be written to `dir`, when the file system says so ("" when it
// seems able to take them): a read-only mount, a disk (nearly) full. Asked while gnuplot's
// partial files still take their space.
std::string why_not_writable(const std::string& dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) == 0) {
    if (st.f_flag & ST_RDONLY) return "read-only file system: " + dir;
    const double free_bytes = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
    // A figure takes up to a few hundred KiB per format.
    if (free_bytes < 1024.0 * 1024.0)
      return "disk full: " + ip::format_bytes(free_bytes) + " free on the file system of " + dir;
  }
  try {
    const std::string probe = (fs::path(dir) / ".inferencepower-figure-probe").string();
    ip::write_file_atomic(probe, std::string(64 * 1024, 'x'));
    std::error_code ec;
    fs::remove(probe, ec);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

std::vector<std::string> draw(const std::string& dir, const std::string& stem, int width, int height,
                              const std::vector<Format>& formats,
                              const std::function<void(gnuplotio::Gnuplot&)>& body, const std::string& csv) {
  // gnuplot dying early (no room for its output) must not kill us with SIGPIPE: the missing
  // output is reported below instead.
  static const bool sigpipe_ignored = (std::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  const std::string log = (fs::path(dir) / ("." + stem + ".gnuplot.log")).string();
  // gnuplot writes each format to a temporary name of ours; the figure's files appear together
  // (with its CSV) once every one is complete, so a full disk leaves no empty or half file.
  std::vector<std::pair<std::string, std::string>> outputs;  // final path, temporary path
  ip::HeldTemporaries held;  // each temporary file open, and locked, until it has its name
  auto discard = [&] {
    for (const auto& o : outputs) ::unlink(o.second.c_str());
  };
  for (const Format& f : formats) {
    const std::string path = (fs::path(dir) / (stem + "." + f.ext)).string();
    std::string tmpl = (fs::path(dir) / ("." + stem + "." + f.ext + ".tmp." + std::to_string(getpid()) + ".XXXXXX")).string();
    const int fd = mkostemp(tmpl.data(), O_CLOEXEC);  // gnuplot opens the file itself
    if (fd < 0) {
      const std::string why = std::strerror(errno);
      discard();
      throw std::runtime_error("figure " + stem + ": cannot create a file in " + dir + ": " + why);
    }
    held.hold(fd);
    outputs.emplace_back(path, tmpl);
  }
  {
    // gnuplot's messages go to a log so that errors can be reported with the figure's name.
    gnuplotio::Gnuplot gp("gnuplot 2>" + q(log));
    for (std::size_t i = 0; i < formats.size(); ++i) {
      gp << "reset session\n" << terminal_line(formats[i], width, height) << "\nset output " << q(outputs[i].second)
         << "\n";
      body(gp);
      gp << "unset output\n";
    }
    gp << "exit\n";
  }  // the destructor waits for gnuplot to finish
  std::string messages = ip::read_text_file(log);
  std::error_code ec;
  fs::remove(log, ec);
  if (messages.find("rror") != std::string::npos) {
    const std::string why = why_not_writable(dir);
    discard();
    throw std::runtime_error("figure " + stem + ": " + (why.empty() ? "gnuplot failed:\n" + messages : why));
  }
  for (const auto& [path, tmp] : outputs) {
    if (fs::exists(tmp, ec) && fs::file_size(tmp, ec) > 0) continue;
    const std::string why = why_not_writable(dir);
    discard();
    throw std::runtime_error("figure " + stem + ": " +
                             (why.empty() ? "gnuplot wrote nothing to " + path + (messages.empty() ? "" : ":\n" + messages)
                                          : why + " (" + path + " not written)"));
  }
  ip::FileSet set;
  const std::string csv_path = (fs::path(dir) / (stem + ".csv")).string();
  set.add(csv_path, csv);
  for (const auto& [path, tmp] : outputs) set.adopt(path, tmp);
  try {
    set.commit();
  } catch (const std::exception& e) {
    discard();
    const std::string what = e.what();
    throw std::runtime_error("figure " + stem + ": " +
                             (what.find(std::strerror(ENOSPC)) != std::string::npos ? "disk full: " : "") + what);
  }
  std::vector<std::string> paths = {csv_path};
  for (const auto& o : outputs) paths.push_back(o.first);
  return paths;
}

std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string hsv(double h, double s, double v) {
  h = h - std::floor(h);
  const double c = v * s, x = c * (1 - std::fabs(std::fmod(h * 6, 2) - 1)), m = v - c;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h * 6) % 6) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
  }
  char buf[8];
  auto byte = [](double u) { return static_cast<int>(std::lround(std::clamp(u, 0.0, 1.0) * 255)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", byte(r + m), byte(g + m), byte(b + m));
  return buf;
}

std::string group_colour(const std::string& group, int index, int count) {
  const double t = count > 1 ? static_cast<double>(index) / (count - 1) : 0.5;
  // Neighbours alternate in brightness so adjacent legend entries stay apart.
  const double v = index % 2 ? 0.62 : 0.88;
  if (group == "activation") return hsv(0.45 + 0.33 * t, 0.85, v);  // teal → blue → violet
  if (group == "dropout") return hsv(0.0 + 0.10 * t, 0.9, index % 2 ? 0.75 : 0.95);  // red → orange
  if (group == "identity") return "#000000";
  return "#888888";
}

std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out;
}


}  // namespace plots
