// What every command-line program shares and needs neither the engine nor the kernels for:
// parsing its flags with one kind of error line, reading a small text file, sizes in messages.
// The result tools (power_table, compare_results, figures) link this and the results library
// only.
#pragma once

#include <string>

namespace CLI {
class App;
class Validator;
}

namespace ip {

// Parses the command line. Returns -1 to go on, or the exit code: 0 after --help, 2 after a
// usage error (printed in one line as "<program>: error: ... (see --help)"). Every numeric
// flag given is checked: integers must be whole numbers within their type (no "-1" for an
// unsigned seed, no saturation), floating-point values finite. An unknown long flag is named
// before any other problem.
int parse_command_line(CLI::App& app, int argc, char** argv, const char* program);
// A CLI11 check that a number is at least `min`, whose message says so plainly (CLI11's own
// range checks print the largest double in full).
CLI::Validator at_least(double min);

// The whole file as text ("" when it cannot be read).
std::string read_text_file(const std::string& path);

// "1.5 GiB", "12 MiB": sizes in messages.
std::string format_bytes(double bytes);

}  // namespace ip
