// Drawing one figure into several files (SVG, PNG, PDF) through gnuplot-iostream, and the small
// helpers every figure shares: quoting, colours, CSV beside the figure.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gnuplot-iostream.h>

#include "results/results.h"

namespace plots {

// One output format: its file extension and gnuplot terminal.
struct Format {
  std::string ext;       // "svg", "png", "pdf"
  std::string terminal;  // "svg", "pngcairo", "pdfcairo"
};

// The formats asked for ("svg,png,pdf" or "all") that this gnuplot has; throws on an unknown
// name, and says how to install gnuplot when it is missing. PDF is left out, with a note, when
// the pdfcairo terminal is missing.
std::vector<Format> select_formats(const std::string& list, std::vector<std::string>& notes);

// Draws a figure: for each format, sets the terminal (width x height pixels) and output
// `<dir>/<stem>.<ext>`, then calls `body`, which sends the settings, plot command and inline
// data; `<dir>/<stem>.csv` gets `csv`, the numbers it plots. The files appear together or not
// at all (ip::FileSet). Throws naming the figure when gnuplot reports an error or leaves a file
// empty, and says "disk full" when that is why. Returns the paths written, the CSV first.
std::vector<std::string> draw(const std::string& dir, const std::string& stem, int width, int height,
                              const std::vector<Format>& formats,
                              const std::function<void(gnuplotio::Gnuplot&)>& body, const std::string& csv);

// A gnuplot string literal: single-quoted, quotes doubled (no backslash escapes apply).
std::string q(const std::string& s);
// "#rrggbb" of hue, saturation, value in [0, 1].
std::string hsv(double h, double s, double v);
// Colour of a function's series: activations in blues to purples, dropouts in reds to oranges,
// Identity black, anything else grey; `index`/`count` place it within its group.
std::string group_colour(const std::string& group, int index, int count);
// A file-name-safe form of a platform name ("paper:dc_cpu" → "paper_dc_cpu").
std::string file_safe(const std::string& name);
using ip::csv_field;
using ip::csv_number;

}  // namespace plots
