// rand_power: the paper's random-data inference experiment (DESIGN.md §1, "rand").
//
// Per function: Linear(1024→1024), the function 4 times, Linear(1024→16), trained on one fixed
// random batch or loaded from the model cache (experiments/rand/model.h). Then, in eval mode,
// at each scale n it measures predicting 10^n random instances in chunks of min(10^n, 100000)
// rows, in one of two designs (experiments/rand/designs.h): interleaved rounds paired with
// Identity until every cost is known to --precision (the default), or the paper's own protocol.
//
// Output: one paper-schema JSON per scale, one consolidated JSON (every sample, the costs with
// their 95% intervals) and CSVs per invocation (experiments/rand/output.h); at the end, the
// costs at the largest scale as a table.
#include "experiments/common/measuring_main.h"
#include "experiments/rand/experiment.h"

int main(int argc, char** argv) {
  return ip::measuring_main<ip::rand::Options, ip::rand::Experiment>(
      argc, argv,
      {"rand_power",
       "rand_power: what each activation function (and dropout) costs when a dense network "
       "predicts random data — the paper's main experiment (DESIGN.md §1). By default every "
       "function is timed in interleaved rounds against Identity until each cost relative to "
       "Identity is known to ±1% (95% CI) or the time budget is spent; the eval-mode dropouts, "
       "no-ops, are the controls. --design paper runs the paper's own protocol. Results go to "
       "--out as one paper-schema JSON per scale plus a consolidated JSON and CSVs.",
       "seed of the data, the initial weights and the shuffles",
       "file name prefix; default <host>_<device>",
       "continue an interrupted run: its consolidated <prefix>.all.<time>.json (partial=true), or "
       "a directory holding one (the newest is taken). Give the same settings as the interrupted "
       "run; what it measured is kept, the rest measured, and its files rewritten in place (to its "
       "directory unless --out is given)"});
}
