// Replays every case of training.json (tests/golden/README.md) in float32: the same model and
// initial parameters, eval mode, the case's optimizer; compares the step-0 gradients and the
// loss before each of the steps with PyTorch's float64 values. Every value comes from the file.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/loss.h"
#include "engine/optim.h"
#include "engine/sequential.h"

namespace ip {
namespace {

using nlohmann::json;

std::string golden_dir() {
  const char* env = std::getenv("INFERENCEPOWER_GOLDEN");
  return env && *env ? env : "tests/golden";
}

std::vector<float> flat(const json& j) {
  std::vector<float> out;
  if (j.is_array()) {
    for (const json& e : j) {
      const std::vector<float> inner = flat(e);
      out.insert(out.end(), inner.begin(), inner.end());
    }
  } else {
    out.push_back(static_cast<float>(j.get<double>()));
  }
  return out;
}

std::vector<double> flat_double(const json& j) {
  std::vector<double> out;
  if (j.is_array()) {
    for (const json& e : j) {
      const std::vector<double> inner = flat_double(e);
      out.insert(out.end(), inner.begin(), inner.end());
    }
  } else {
    out.push_back(j.get<double>());
  }
  return out;
}

// The function's arguments by the table's parameter names (PReLU's "init" included); the
// arguments the table has no slot for must equal the constants the scalar forms use.
std::unique_ptr<FunctionLayer> make_function(const std::string& name, const json& args) {
  const FunctionInfo* info = nullptr;
  for (const FunctionInfo& f : kFunctionInfo)
    if (name == f.name) info = &f;
  if (!info) throw std::runtime_error("function " + name + " is not in the table");
  Params<float> p = default_params<float>(info->id);
  float* slots[2] = {&p.p0, &p.p1};
  for (int i = 0; i < 2; ++i)
    if (info->param_names[i][0] != '\0' && args.contains(info->param_names[i]))
      *slots[i] = static_cast<float>(args[info->param_names[i]].get<double>());
  if (args.contains("eval_negative_slope")) {  // RReLU: eval mode uses the mean of the bounds
    EXPECT_FLOAT_EQ(RReLU::eval_slope(p),
                    static_cast<float>(args["eval_negative_slope"].get<double>()));
  }
  if (args.contains("scale")) {  // SELU
    EXPECT_DOUBLE_EQ(args["alpha"].get<double>(), math::kSeluAlpha);
    EXPECT_DOUBLE_EQ(args["scale"].get<double>(), math::kSeluScale);
  }
  if (args.contains("approximate")) {
    EXPECT_EQ(args["approximate"], "none");
  }
  if (args.contains("dim")) {
    EXPECT_EQ(args["dim"], 1);  // the features of a [batch, features] input
  }
  return std::make_unique<FunctionLayer>(info->id, p);
}

struct CaseResult {
  double worst_grad = 0, worst_loss = 0, worst_param = 0;
};

// Relative error against a float64 reference, with a floor for references near zero.
double rel_err(double got, double ref, double floor) {
  return std::fabs(got - ref) / std::max(std::fabs(ref), floor);
}

CaseResult replay(const json& c) {
  CaseResult r;
  const std::string name = c["name"];
  const size_t d_in = c["d_in"], h = c["h"], d_out = c["d_out"], batch = c["batch"];
  const int K = c["K"];
  const bool nll = c["loss"] == "nll_mean";
  EXPECT_EQ(c["mode"], "eval") << name;

  Sequential model;
  model.add(std::make_unique<Linear>(d_in, h, 0));
  for (int k = 0; k < K; ++k)
    model.add(make_function(c["function"], c["function_args"]));
  model.add(std::make_unique<Linear>(h, d_out, 0));
  if (nll) model.add(std::make_unique<FunctionLayer>(FunctionId::LogSoftmax));
  model.eval();

  // Golden names → registry entries: fc1 is layer 0, fc2 layer K+1, "prelu" the K layer weights.
  auto& fc1 = static_cast<Linear&>(model.layer(0));
  auto& fc2 = static_cast<Linear&>(model.layer(K + 1));
  struct Named {
    std::string key;
    std::vector<Tensor*> values, grads;  // "prelu" spans K one-element tensors
  };
  std::vector<Named> named = {{"fc1.weight", {&fc1.weight}, {&fc1.weight_grad}},
                              {"fc1.bias", {&fc1.bias}, {&fc1.bias_grad}},
                              {"fc2.weight", {&fc2.weight}, {&fc2.weight_grad}},
                              {"fc2.bias", {&fc2.bias}, {&fc2.bias_grad}}};
  if (c["params0"].contains("prelu")) {
    Named pr{"prelu", {}, {}};
    for (int k = 0; k < K; ++k) {
      auto& f = static_cast<FunctionLayer&>(model.layer(1 + k));
      pr.values.push_back(&f.weight);
      pr.grads.push_back(&f.weight_grad);
    }
    named.push_back(pr);
  }
  EXPECT_EQ(named.size(), c["params0"].size()) << name << ": parameters the replay does not know";
  for (const Named& n : named) {
    const std::vector<float> v = flat(c["params0"][n.key]);
    size_t at = 0;
    for (Tensor* t : n.values) {
      EXPECT_LE(at + t->numel(), v.size()) << name << " " << n.key;
      t->from_host(v.data() + at);
      at += t->numel();
    }
    EXPECT_EQ(at, v.size()) << name << " " << n.key << " size";
  }

  const Tensor x = Tensor::from_vector({batch, d_in}, flat(c["x"]));
  Tensor y;
  std::vector<int32_t> labels;
  if (nll) {
    for (const json& v : c["y"]) labels.push_back(v.get<int32_t>());
  } else {
    y = Tensor::from_vector({batch, d_out}, flat(c["y"]));
  }

  const json& o = c["optimizer"];
  std::unique_ptr<Optimizer> opt;
  if (o["name"] == "adam") {
    AdamConfig a;
    a.lr = o["lr"].get<float>();
    a.beta1 = o["betas"][0].get<float>();
    a.beta2 = o["betas"][1].get<float>();
    a.eps = o["eps"].get<float>();
    a.weight_decay = o["weight_decay"].get<float>();
    EXPECT_FALSE(o["amsgrad"].get<bool>()) << name;
    opt = std::make_unique<Adam>(model.parameters(), a);
  } else {
    EXPECT_EQ(o["name"], "sgd") << name;
    SgdConfig s;
    s.lr = o["lr"].get<float>();
    s.momentum = o["momentum"].get<float>();
    s.dampening = o["dampening"].get<float>();
    s.weight_decay = o["weight_decay"].get<float>();
    s.nesterov = o["nesterov"].get<bool>();
    opt = std::make_unique<Sgd>(model.parameters(), s);
  }

  MseLoss mse(Reduction::Sum);
  NllLoss nll_loss;
  const std::vector<double> losses = c["losses"];
  EXPECT_EQ(losses.size(), c["steps"].get<size_t>()) << name;
  for (size_t step = 0; step < losses.size(); ++step) {
    opt->zero_grad();
    const Tensor& out = model.forward(x);
    const double loss = nll ? nll_loss.forward_backward(out, labels) : mse.forward_backward(out, y);
    // Floor 1e-3: NLL losses fall to ~5e-4 within 10 steps, and float32 log-softmax computes
    // log-probabilities near 0 with an absolute error of about one ulp of 1.0 (6e-8) from
    // x - max - log(sum) with sum ≈ 1; a relative 1e-4 of 1e-3 (1e-7) is that resolution.
    const double e = rel_err(loss, losses[step], 1e-3);
    r.worst_loss = std::max(r.worst_loss, e);
    EXPECT_LE(e, 1e-4) << name << " step " << step << ": loss " << loss << " vs "
                       << losses[step];
    model.backward(nll ? nll_loss.grad() : mse.grad());

    if (step == 0) {
      for (const Named& n : named) {
        const std::vector<double> ref = flat_double(c["grads0"][n.key]);
        std::vector<float> got;
        for (Tensor* t : n.grads)
          for (float v : t->to_vector()) got.push_back(v);
        EXPECT_EQ(got.size(), ref.size()) << name << " " << n.key;
        if (got.size() != ref.size()) continue;
        // Floor: float32 backpropagation through up to 7 layers of sums over <= 16 terms
        // carries absolute errors of order (depth × terms)·eps32 ≈ 1e-5 × the tensor's largest
        // gradient (observed: 1e-7 of it), whatever the entry's own size; entries below 1e-2 of
        // that largest gradient (dead units, float64 zeros) are judged against that instead.
        double ref_max = 0;
        for (double v : ref) ref_max = std::max(ref_max, std::fabs(v));
        const double floor = std::max(1e-2 * ref_max, 1e-30);
        for (size_t i = 0; i < ref.size(); ++i) {
          const double e2 = rel_err(got[i], ref[i], floor);
          r.worst_grad = std::max(r.worst_grad, e2);
          EXPECT_LE(e2, 1e-4) << name << " grad " << n.key << "[" << i << "]: " << got[i]
                              << " vs " << ref[i];
        }
      }
    }
    opt->step();
  }

  // Final parameters: informative (reported), checked loosely, since Adam's normalised steps
  // turn float32 noise in near-zero gradients into lr-sized moves.
  for (const Named& n : named) {
    const std::vector<double> ref = flat_double(c["params_final"][n.key]);
    std::vector<float> got;
    for (Tensor* t : n.values)
      for (float v : t->to_vector()) got.push_back(v);
    for (size_t i = 0; i < ref.size() && i < got.size(); ++i)
      r.worst_param = std::max(r.worst_param, std::fabs(got[i] - ref[i]));
  }
  return r;
}

TEST(EngineTrainingGolden, ReplaysEveryCase) {
  const std::string path = golden_dir() + "/training.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path << " (set INFERENCEPOWER_GOLDEN)";
  const json doc = json::parse(in);
  const json& cases = doc["cases"];
  ASSERT_FALSE(cases.empty());
  CaseResult worst;
  std::string worst_loss_case, worst_grad_case;
  std::ostringstream table;
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const CaseResult r = replay(c);
    if (r.worst_loss > worst.worst_loss) worst_loss_case = c["name"];
    if (r.worst_grad > worst.worst_grad) worst_grad_case = c["name"];
    worst.worst_loss = std::max(worst.worst_loss, r.worst_loss);
    worst.worst_grad = std::max(worst.worst_grad, r.worst_grad);
    worst.worst_param = std::max(worst.worst_param, r.worst_param);
    table << c["name"].get<std::string>() << ": loss " << r.worst_loss << " grad " << r.worst_grad
          << " final-param abs " << r.worst_param << "\n";
  }
  EXPECT_LE(worst.worst_param, 1e-3) << "final parameters drifted from PyTorch's";
  std::printf("training.json: %zu cases; worst loss rel err %.3g (%s), worst grad rel err %.3g "
              "(%s), worst final-parameter abs err %.3g\n",
              cases.size(), worst.worst_loss, worst_loss_case.c_str(), worst.worst_grad,
              worst_grad_case.c_str(), worst.worst_param);
  if (std::getenv("INFERENCEPOWER_VERBOSE")) std::printf("%s", table.str().c_str());
}

}  // namespace
}  // namespace ip
