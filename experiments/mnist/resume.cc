#include "experiments/mnist/resume.h"

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "experiments/common/run_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ip::mnist {

Resumed load_resume(const std::string& spec) {
  Resumed r;
  r.path = find_resume_file(spec, "mnist_power result (<prefix>_<time>.json)", [](const json& j) {
    return j.contains("times") && j.contains("accuracies");
  });
  try {
    r.file = read_mnist_file(r.path);
    if (!r.file.partial) throw std::invalid_argument("the run is complete (partial=false): nothing to resume");
    r.unix_time = unix_time_from_name(r.path);
    // Only a name this program wrote leads back to the same file when it is rewritten.
    if (r.unix_time <= 0 ||
        fs::path(mnist_result_path(".", r.file.outprefix, r.unix_time)).filename() != fs::path(r.path).filename())
      throw std::invalid_argument("not named <prefix>_<unix time>.json with its prefix '" + r.file.outprefix + "'");
  } catch (const std::exception& e) {
    throw std::invalid_argument("--resume: " + r.path + ": " + e.what());
  }
  return r;
}

void check_resume_settings(const Resumed& r, const MnistResults& now) {
  const std::string command_line = r.file.parameters.value("command_line", std::string("?"));
  auto same = [&](const std::string& flag, const json& was, const json& is) {
    check_same_setting(flag, was, is, command_line);
  };
  same("--dataset", r.file.dataset, now.dataset);
  same("--device", r.file.device, now.device);
  same("the hardware", r.file.hardware_name, now.hardware_name);
  same("--threshold", r.file.target_accuracy, now.target_accuracy);
  same("--max-epochs", r.file.max_epochs, now.max_epochs);
  check_same_parameters(r.file.parameters, now.parameters, {
      {"functions", "--functions"},   {"batch", "--batch"},         {"lr", "--lr"},
      {"momentum", "--momentum"},     {"seed", "--seed"},           {"limit_train", "--limit-train"},
      {"train_images", "the training images"}, {"test_images", "the test images"},
      {"data_dir", "--data-dir"},     {"eval_mode", "--eval-in-train-mode"},
      {"threads", "--threads"},       {"simd_target", "--target"},  {"energy_mode", "--energy"}}, command_line);
}

}  // namespace ip::mnist
