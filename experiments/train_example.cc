// Trains the paper's "rand" model on one fixed random batch and prints the loss per step:
//   Linear(1024→1024), the function 4×, Linear(1024→16); x ~ N(0,1) 64×1024, y ~ N(0,1) 64×16;
//   MSE (sum), Adam lr 1e-4.
// With --save the trained model is written to a model file, read back, and checked to predict
// exactly what the trained model predicts.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/loss.h"
#include "engine/model_file.h"
#include "engine/optim.h"
#include "engine/sequential.h"
#include "experiments/common/run_support.h"
#include "kernels/common/philox_streams.h"

int main(int argc, char** argv) {
  CLI::App app{"Train the paper's rand model with one activation function"};
  std::string function = "gelu", device_name = "cpu", save_path;
  int steps = 20;
  uint64_t seed = 1234;
  app.add_option("--function", function, "function (table CLI name)");
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--steps", steps, "training steps")->check(ip::at_least(0));
  app.add_option("--seed", seed, "seed of the data and of the initial parameters");
  app.add_option("--save", save_path, "write the trained model to this file and reload it");
  if (const int rc = ip::parse_command_line(app, argc, argv, "train_example"); rc >= 0) return rc;

  try {
    const ip::Device device = ip::parse_device(device_name);
    const std::string description = "linear(1024,1024) " + function + " " + function + " " +
                                    function + " " + function + " linear(1024,16)";
    ip::Sequential model = ip::Sequential::parse(description, seed);
    model.to(device);
    model.train();
    std::printf("model: %s on %s, %zu parameters\n", model.describe().c_str(),
                ip::device_name(device), model.parameter_count());

    // The rand model's training batch, on streams of its own (the layers draw their initial
    // weights from the same seed).
    const ip::Tensor x = ip::Tensor::from_vector(
        {64, 1024}, ip::normal_values(64 * 1024, seed, ip::philox::kRandTrainInputStream)).to(device);
    const ip::Tensor y = ip::Tensor::from_vector(
        {64, 16}, ip::normal_values(64 * 16, seed, ip::philox::kRandTrainTargetStream)).to(device);
    ip::MseLoss loss(ip::Reduction::Sum);
    ip::AdamConfig adam;
    adam.lr = 1e-4f;
    ip::Adam optimizer(model.parameters(), adam);

    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) {
      optimizer.zero_grad();
      const double l = loss.forward_backward(model.forward(x), y);
      model.backward(loss.grad());
      optimizer.step();
      std::printf("step %d loss %.6f\n", step, l);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d steps in %.3f s\n", steps, seconds);

    if (!save_path.empty()) {
      model.eval();
      const std::vector<float> before = model.forward(x).to_vector();
      ip::save_model(model, save_path);
      ip::Sequential loaded = ip::load_model(save_path);
      loaded.to(device);
      loaded.eval();
      const std::vector<float> after = loaded.forward(x).to_vector();
      if (before != after) {
        std::fprintf(stderr, "reloaded model predicts differently\n");
        return 1;
      }
      std::printf("saved %s and reloaded it: identical predictions\n", save_path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
