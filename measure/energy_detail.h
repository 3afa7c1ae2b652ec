// Helpers shared by the energy backends (measure/energy*.cc only; not a public header).
#pragma once

#include <cstdint>
#include <string>

#include "measure/energy.h"

namespace ip::energy_detail {

// Seconds on the steady clock (an arbitrary origin; only differences mean anything).
double now_seconds();

// Reads a small sysfs-style file. False with *error ("<path>: <strerror>") when it cannot be
// opened or read (missing, a directory, permission denied).
bool read_text(const std::string& path, std::string* out, std::string* error);
// Surrounding whitespace removed.
std::string trim(const std::string& text);
// A whole decimal unsigned 64-bit number (surrounding whitespace allowed), nothing else.
bool parse_u64(const std::string& text, uint64_t* value);
// Reads and parses a counter file; *error names the file and the problem.
bool read_u64(const std::string& path, uint64_t* value, std::string* error);

std::string format_seconds(double seconds);  // "850 us", "12.3 ms", "1.00 s"

// Applies the rules every counter shares to a finished reading (seconds set): a window shorter
// than min_window is flagged; a counter that did not advance makes the reading Unavailable,
// because 0 J cannot be told apart from "not counting". `counter` names it in messages.
void judge_window(EnergyReading& reading, bool advanced, double min_window,
                  const std::string& counter, const std::string& update_note);

}  // namespace ip::energy_detail
