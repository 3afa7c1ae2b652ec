#include "experiments/common/cli.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "results/results.h"

namespace ip {

namespace {

// CLI11 takes "-1" for an unsigned flag as 2^64-1, saturates numbers beyond the type's range,
// and accepts nan and inf for floating-point flags. Every numeric flag of every program is
// checked here instead, so no program can forget one.
std::string numeric_problem(const std::string& type, const std::string& value) {
  const bool is_unsigned = type.rfind("UINT", 0) == 0, is_int = type.rfind("INT", 0) == 0;
  const bool is_float = type.rfind("FLOAT", 0) == 0;
  if (!is_unsigned && !is_int && !is_float) return "";
  errno = 0;
  char* end = nullptr;
  if (is_float) {
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') return "is not a number";
    if (!std::isfinite(v)) return "is not a finite number";
    return "";
  }
  const bool hex = value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
  const std::string digits = hex ? value.substr(2) : (is_int && !value.empty() && (value[0] == '-' || value[0] == '+'))
                                                         ? value.substr(1)
                                                         : value;
  const bool well_formed = !digits.empty() && digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") ==
                                                  std::string::npos;
  if (is_unsigned) {
    if (!well_formed) return "is not a whole number from 0 to 18446744073709551615";
    (void)std::strtoull(value.c_str(), &end, 0);
    if (errno == ERANGE) return "is more than 18446744073709551615";
    return "";
  }
  if (!well_formed) return "is not a whole number";
  (void)std::strtoll(value.c_str(), &end, 0);
  if (errno == ERANGE) return "is out of range";
  return "";
}

// The first argument that looks like a long flag this program does not have ("" when none).
// CLI11 reports a missing required argument before an unknown flag, which names the wrong thing.
std::string unknown_long_flag(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") break;
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) continue;
    const std::string name = a.substr(0, a.find('='));
    if (!app.get_option_no_throw(name)) return name;
  }
  return "";
}

// The first numeric flag given a value that numeric_problem refuses, as a message ("" if none).
std::string numeric_flag_problem(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0) continue;
    for (const std::string& value : opt->results()) {
      const std::string problem = numeric_problem(opt->get_type_name(), value);
      if (!problem.empty()) return opt->get_name() + ": '" + value + "' " + problem;
    }
  }
  return "";
}

}  // namespace

int parse_command_line(CLI::App& app, int argc, char** argv, const char* program) {
  std::string message;
  try {
    app.parse(argc, argv);
    message = numeric_flag_problem(app);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e) == 0 ? 0 : 2;  // --help
    message = unknown_long_flag(app, argc, argv);
    if (!message.empty()) message = "unknown flag " + message;
    if (message.empty()) message = numeric_flag_problem(app);  // e.g. "1e3" for a count
    if (message.empty()) message = e.what();
  }
  if (message.empty()) return -1;
  std::fprintf(stderr, "%s: error: %s (see --help)\n", program, message.c_str());
  return 2;
}

CLI::Validator at_least(double min) {
  return CLI::Validator(
      [min](std::string& value) {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !(v >= min))
          return "must be " + format_number(min) + " or more, got '" + value + "'";
        return std::string();
      },
      ">=" + format_number(min));
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  for (; bytes >= 1024 && u < 5; ++u) bytes /= 1024;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

}  // namespace ip
