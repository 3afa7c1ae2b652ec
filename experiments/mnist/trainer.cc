#include "experiments/mnist/trainer.h"

#include <algorithm>
#include <cmath>

#include "engine/numerics.h"
#include "experiments/common/run_support.h"
#include "results/results.h"

namespace ip::mnist {

namespace {
constexpr std::size_t kEvalBatch = 1000;  // evaluation is untimed; bigger calls just finish sooner
}

std::string describe_model(const FunctionInfo& f) {
  const std::string fn = f.cli_name;
  return "linear(" + std::to_string(kMnistPixels) + "," + std::to_string(kHidden) + ") " + fn + " " + fn + " " +
         fn + " " + fn + " linear(" + std::to_string(kHidden) + "," + std::to_string(kMnistClasses) +
         ") log_softmax";
}

double bytes_per_training_row() {
  return (kMnistPixels + 2.0 * (5 * kHidden + 2 * kMnistClasses)) * sizeof(float);
}

double accuracy(Sequential& model, const Dataset& data, Device device) {
  std::size_t correct = 0;
  for (std::size_t begin = 0; begin < data.count; begin += kEvalBatch) {
    const std::size_t rows = std::min(kEvalBatch, data.count - begin);
    const std::vector<float> x(data.images.begin() + static_cast<std::ptrdiff_t>(begin * kMnistPixels),
                               data.images.begin() + static_cast<std::ptrdiff_t>((begin + rows) * kMnistPixels));
    const Tensor input = Tensor::from_vector({rows, std::size_t(kMnistPixels)}, x, device);
    const std::vector<float> out = model.forward(input).to_vector();
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = out.data() + r * kMnistClasses;
      const int predicted = static_cast<int>(std::max_element(row, row + kMnistClasses) - row);
      correct += predicted == data.labels[begin + r];
    }
  }
  return data.count ? static_cast<double>(correct) / static_cast<double>(data.count) : 0.0;
}

Trainer::Trainer(Sequential& model, double lr, double momentum, Device device)
    : model_(model), device_(device), timer_(synchroniser(device)) {
  SgdConfig sgd;
  sgd.lr = static_cast<float>(lr);
  sgd.momentum = static_cast<float>(momentum);
  optimizer_ = std::make_unique<Sgd>(model.parameters(), sgd);
}

double Trainer::epoch(const Dataset& train, const std::vector<std::size_t>& order, std::size_t batch) {
  double seconds = 0;
  std::vector<float> host;
  std::vector<int32_t> labels;
  for (std::size_t begin = 0; begin < order.size(); begin += batch) {
    if (interrupted()) return -1;
    const std::size_t rows = std::min(batch, order.size() - begin);
    host.resize(rows * kMnistPixels);
    labels.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = order[begin + r];
      std::copy_n(train.images.begin() + static_cast<std::ptrdiff_t>(i * kMnistPixels), kMnistPixels,
                  host.begin() + static_cast<std::ptrdiff_t>(r * kMnistPixels));
      labels[r] = train.labels[i];
    }
    Tensor& x = rows == batch ? full_ : last_;
    ensure_shape(x, {rows, std::size_t(kMnistPixels)}, device_);
    x.from_host(host.data());

    timer_.start();  // the copy above is data loading, not a training step
    optimizer_->zero_grad();
    const double l = loss_.forward_backward(model_.forward(x), labels);
    ++steps_;
    if (!std::isfinite(l)) {  // the loss is on the host already: this check costs nothing
      const std::string where = locate_non_finite(model_, x);
      failure_ = "non-finite loss (" + format_number(l) + ") at training step " + std::to_string(steps_) +
                 (where.empty() ? "" : "; first non-finite value: " + where);
      return -1;
    }
    model_.backward(loss_.grad());
    optimizer_->step();
    seconds += timer_.seconds();
  }
  return seconds;
}

}  // namespace ip::mnist
