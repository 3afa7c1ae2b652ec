// The main() of a measuring program (rand_power, mnist_power): the common flags and the program's
// own, one parse, then its experiment inside a Session. Only the words differ between programs.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "experiments/common/session.h"

namespace ip {

// A measuring program's words: its name, its --help description, and what its seed seeds, its
// default file name prefix and its --resume continue from (add_common_flags).
struct ProgramText {
  const char* name;
  std::string description, seed_help, prefix_help, resume_help;
};

// `Options` is the program's own flags, registered by add_options(app, options) (found in its
// namespace); `Run` its ip::Experiment, built from them.
template <class Options, class Run>
int measuring_main(int argc, char** argv, const ProgramText& text) {
  CommonFlags common;
  Options options;
  CLI::App app{text.description};
  add_common_flags(app, common, text.seed_help, text.prefix_help, text.resume_help);
  add_options(app, options);
  if (int rc = parse_command_line(app, argc, argv, text.name); rc >= 0) return rc;
  Session session(text.name, common, argc, argv);
  Run run(options, common, session);
  return session.run(run, app);
}

}  // namespace ip
