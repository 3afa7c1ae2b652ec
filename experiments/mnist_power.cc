// mnist_power: time to 90% test accuracy on MNIST per activation function (DESIGN.md §1, "mnist").
//
// Per function: Linear(784→1024), the function 4 times, Linear(1024→10), LogSoftmax; NLL loss;
// SGD lr 1e-4, momentum 0.9; batches of 128, shuffled every epoch (seeded, the same order for every
// function); pixels in [0, 1]. After each epoch, accuracy on the 10,000 test images (eval mode;
// --eval-in-train-mode reproduces the original, which never left train mode); stop at the
// threshold or the epoch limit. Only training steps are timed: forward, backward, update.
//
// The pieces (experiments/mnist/): the network and its trainer, --resume, and the run itself.
// Output: <prefix>_<time>.json and its CSV (results/results.h), rewritten after every
// function, partial until the last.
#include "experiments/common/measuring_main.h"
#include "experiments/mnist/experiment.h"

int main(int argc, char** argv) {
  return ip::measuring_main<ip::mnist::Options, ip::mnist::Experiment>(
      argc, argv,
      {"mnist_power",
       "mnist_power: training time (and energy) to reach a test accuracy on MNIST per activation "
       "function — the paper's MNIST experiment (DESIGN.md §1). Only training steps are timed.",
       "seed of the initial weights, the shuffles and random layers",
       "file name prefix; default <dataset>_<host>_<device>",
       "continue an interrupted run: its result file <prefix>_<time>.json (partial=true), or a "
       "directory holding one (the newest is taken). Give the same settings as the interrupted "
       "run; its functions are kept, the others trained, and its file rewritten complete in place "
       "(in its directory unless --out is given)"});
}
