// mnist_power --resume: continuing a run cut short from its result file (partial=true). The
// functions it holds (finished or failed) keep their values and are not trained again.
#pragma once

#include <string>

#include "results/results.h"

namespace ip::mnist {

struct Resumed {
  std::string path;
  MnistResults file;      // its finished and failed functions, kept as they are
  double unix_time = 0;   // from its name: the resumed run rewrites that same file
};

// The file `spec` names, or the newest partial MNIST result in the directory `spec`. Throws
// std::invalid_argument starting with "--resume: ".
Resumed load_resume(const std::string& spec);

// Every setting that changes a result must be the same as in the interrupted run.
void check_resume_settings(const Resumed& r, const MnistResults& now);

}  // namespace ip::mnist
