// The one list of every function inferencepower measures. Each function is declared here once;
// kernels, layers, command-line names, tests, benchmarks and plots all expand this table.
//
// Adding a function = one row here + its scalar form in activation_math.h + its vector form in
// kernels/cpu/activations-inl.h. Nothing else.
//
// Row: X(Id, cli_name, torch_path, torch_args, group, kind, in_paper,
//        param0_name, param0_default, param1_name, param1_default)
//   Id          C++ identifier; also the golden-file name (PyTorch class name, GELU_tanh for the
//               tanh-approximate GELU) and the name of the scalar/vector form structs.
//   cli_name    lower-case name used on every command line.
//   torch_path  PyTorch module path, the key of the paper's result files.
//   torch_args  constructor arguments beyond PyTorch's defaults ("" when built with defaults).
//   group       Activation | Dropout | IdentityGroup: how the paper's figures group it.
//   kind        Elementwise | Rowwise | Dropout: which kernel family runs it.
//   in_paper    1 for the 26 modules timed by the paper.
//   param*      PyTorch's default parameters, in the units the scalar forms take (unused = "").
//
// Notes on parameters:
//   PReLU's param0 is the initial value of its learnable weight; layers pass the current weight.
//   RReLU uses the mean slope (lower+upper)/2 in eval mode and a random slope in train mode.
//   Threshold has no defaults in PyTorch; the golden file's explicit arguments are used.
//   Softmax, Softmin and LogSoftmax act over the feature dimension (PyTorch's implicit dim=1).
//   Dropout rows hold p; Dropout2d on a 2-D input is element-wise and Dropout3d drops whole rows,
//   as in PyTorch 1.13 (see README).
#pragma once

#include <type_traits>
#include <vector>

// clang-format off
#define INFERENCEPOWER_FUNCTIONS(X) \
  X(CELU,         "celu",          "torch.nn.modules.activation.CELU",         "", Activation,    Elementwise, 1, "alpha",          1.0,     "",         0.0) \
  X(ELU,          "elu",           "torch.nn.modules.activation.ELU",          "", Activation,    Elementwise, 1, "alpha",          1.0,     "",         0.0) \
  X(GELU,         "gelu",          "torch.nn.modules.activation.GELU",         "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(Hardshrink,   "hardshrink",    "torch.nn.modules.activation.Hardshrink",   "", Activation,    Elementwise, 1, "lambd",          0.5,     "",         0.0) \
  X(Hardtanh,     "hardtanh",      "torch.nn.modules.activation.Hardtanh",     "", Activation,    Elementwise, 1, "min_val",       -1.0,     "max_val",  1.0) \
  X(LeakyReLU,    "leaky_relu",    "torch.nn.modules.activation.LeakyReLU",    "", Activation,    Elementwise, 1, "negative_slope", 0.01,    "",         0.0) \
  X(LogSigmoid,   "log_sigmoid",   "torch.nn.modules.activation.LogSigmoid",   "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(LogSoftmax,   "log_softmax",   "torch.nn.modules.activation.LogSoftmax",   "", Activation,    Rowwise,     1, "",               0.0,     "",         0.0) \
  X(PReLU,        "prelu",         "torch.nn.modules.activation.PReLU",        "", Activation,    Elementwise, 1, "init",           0.25,    "",         0.0) \
  X(RReLU,        "rrelu",         "torch.nn.modules.activation.RReLU",        "", Activation,    Elementwise, 1, "lower",          0.125,   "upper",    1.0 / 3.0) \
  X(ReLU,         "relu",          "torch.nn.modules.activation.ReLU",         "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(ReLU6,        "relu6",         "torch.nn.modules.activation.ReLU6",        "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(SELU,         "selu",          "torch.nn.modules.activation.SELU",         "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(Sigmoid,      "sigmoid",       "torch.nn.modules.activation.Sigmoid",      "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(Softmax,      "softmax",       "torch.nn.modules.activation.Softmax",      "", Activation,    Rowwise,     1, "",               0.0,     "",         0.0) \
  X(Softmin,      "softmin",       "torch.nn.modules.activation.Softmin",      "", Activation,    Rowwise,     1, "",               0.0,     "",         0.0) \
  X(Softplus,     "softplus",      "torch.nn.modules.activation.Softplus",     "", Activation,    Elementwise, 1, "beta",           1.0,     "threshold", 20.0) \
  X(Softshrink,   "softshrink",    "torch.nn.modules.activation.Softshrink",   "", Activation,    Elementwise, 1, "lambd",          0.5,     "",         0.0) \
  X(Softsign,     "softsign",      "torch.nn.modules.activation.Softsign",     "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(Tanh,         "tanh",          "torch.nn.modules.activation.Tanh",         "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(Tanhshrink,   "tanhshrink",    "torch.nn.modules.activation.Tanhshrink",   "", Activation,    Elementwise, 1, "",               0.0,     "",         0.0) \
  X(AlphaDropout, "alpha_dropout", "torch.nn.modules.dropout.AlphaDropout",    "", Dropout,       Dropout,     1, "p",              0.5,     "",         0.0) \
  X(Dropout,      "dropout",       "torch.nn.modules.dropout.Dropout",         "", Dropout,       Dropout,     1, "p",              0.5,     "",         0.0) \
  X(Dropout2d,    "dropout2d",     "torch.nn.modules.dropout.Dropout2d",       "", Dropout,       Dropout,     1, "p",              0.5,     "",         0.0) \
  X(Dropout3d,    "dropout3d",     "torch.nn.modules.dropout.Dropout3d",       "", Dropout,       Dropout,     1, "p",              0.5,     "",         0.0) \
  X(Identity,     "identity",      "torch.nn.modules.linear.Identity",         "", IdentityGroup, Elementwise, 1, "",               0.0,     "",         0.0) \
  X(SiLU,         "silu",          "torch.nn.modules.activation.SiLU",         "", Activation,    Elementwise, 0, "",               0.0,     "",         0.0) \
  X(Mish,         "mish",          "torch.nn.modules.activation.Mish",         "", Activation,    Elementwise, 0, "",               0.0,     "",         0.0) \
  X(Hardswish,    "hardswish",     "torch.nn.modules.activation.Hardswish",    "", Activation,    Elementwise, 0, "",               0.0,     "",         0.0) \
  X(Hardsigmoid,  "hardsigmoid",   "torch.nn.modules.activation.Hardsigmoid",  "", Activation,    Elementwise, 0, "",               0.0,     "",         0.0) \
  X(GELU_tanh,    "gelu_tanh",     "torch.nn.modules.activation.GELU",         "approximate='tanh'", Activation, Elementwise, 0, "", 0.0, "",         0.0) \
  X(Threshold,    "threshold",     "torch.nn.modules.activation.Threshold",    "threshold=0.1, value=20.0", Activation, Elementwise, 0, "threshold", 0.1, "value", 20.0)
// clang-format on

namespace ip {

enum class FunctionId : int {
#define IP_ENUM_ROW(Id, ...) Id,
  INFERENCEPOWER_FUNCTIONS(IP_ENUM_ROW)
#undef IP_ENUM_ROW
};

#define IP_COUNT_ROW(...) +1
constexpr int kFunctionCount = 0 INFERENCEPOWER_FUNCTIONS(IP_COUNT_ROW);
#undef IP_COUNT_ROW

enum class FunctionGroup : int { Activation, Dropout, IdentityGroup };
enum class KernelKind : int { Elementwise, Rowwise, Dropout };

// The names result files, benchmarks and the table's JSON listing use for groups and kinds.
constexpr const char* group_name(FunctionGroup g) {
  constexpr const char* kNames[] = {"activation", "dropout", "identity"};
  return kNames[static_cast<int>(g)];
}
constexpr const char* kind_name(KernelKind k) {
  constexpr const char* kNames[] = {"elementwise", "rowwise", "dropout"};
  return kNames[static_cast<int>(k)];
}

// Everything the table says about one function, as data (for code that iterates at run time).
struct FunctionInfo {
  FunctionId id;
  const char* name;        // Id as written in the table (golden-file name)
  const char* cli_name;
  const char* torch_path;
  const char* torch_args;
  FunctionGroup group;
  KernelKind kind;
  bool in_paper;
  const char* param_names[2];
  double param_defaults[2];
};

inline constexpr FunctionInfo kFunctionInfo[] = {
#define IP_INFO_ROW(Id, cli, path, args, group, kind, paper, n0, d0, n1, d1)                     \
  {FunctionId::Id, #Id,  cli, path, args, FunctionGroup::group, KernelKind::kind, paper != 0, \
   {n0, n1}, {d0, d1}},
    INFERENCEPOWER_FUNCTIONS(IP_INFO_ROW)
#undef IP_INFO_ROW
};

constexpr const FunctionInfo& function_info(FunctionId id) {
  return kFunctionInfo[static_cast<int>(id)];
}

// Every function of one kernel family, in table order.
inline std::vector<FunctionId> functions_of_kind(KernelKind kind) {
  std::vector<FunctionId> ids;
  for (const FunctionInfo& f : kFunctionInfo)
    if (f.kind == kind) ids.push_back(f.id);
  return ids;
}

// Compile-time view of one row, for kernels that dispatch with `if constexpr`.
template <FunctionId kId>
struct FunctionTraits {
  static constexpr KernelKind kind = function_info(kId).kind;
};

// Calls f(std::integral_constant<FunctionId, id>{}) for the function `id`; the one switch over the
// table that every dispatcher reuses (callers pick their kernel with `if constexpr`).
template <typename F>
decltype(auto) visit_function(FunctionId id, F&& f) {
  switch (id) {
#define IP_VISIT_ROW(Id, ...) \
  case FunctionId::Id:        \
    return f(std::integral_constant<FunctionId, FunctionId::Id>{});
    INFERENCEPOWER_FUNCTIONS(IP_VISIT_ROW)
#undef IP_VISIT_ROW
  }
  return f(std::integral_constant<FunctionId, FunctionId::Identity>{});  // unreachable
}

}  // namespace ip
