// The CUDA kernel sweep: every function, direction and size through the production kernels'
// API, or with --variant the numbered kernel variants side by side (experiments/cuda_variants),
// each validated against the scalar reference before it is timed. Every kernel row is timed
// alternately with a device-to-device cudaMemcpy of the same size.
#ifdef INFERENCEPOWER_HAVE_CUDA
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "experiments/kernel_bench/session.h"
#include "kernels/common/activation_math.h"
#include "kernels/cuda/kernels.h"
#include "results/results.h"
#ifdef IP_HAVE_CUDA_VARIANTS
#include "experiments/cuda_variants/variants.h"
#endif

namespace ip::bench {

namespace {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

#ifdef IP_HAVE_CUDA_VARIANTS
// The chosen variants of each case side by side. Each variant is validated once per function,
// direction, width and variant (the results are kept across sizes); one that disagrees is
// reported on stdout and stderr, recorded, and not timed.
class VariantRunner {
 public:
  VariantRunner(Session& s, const VariantChoice& choice) : s_(s), choice_(choice) {}

  void run(const KernelRow& base, const Case& c, const Buffers& b, const std::vector<std::function<void()>>& prepare,
           const std::function<void()>& sync, const std::function<void()>& copy) {
    namespace cv = ip::cuda::variants;
    const cv::Family family = cv::family_of(c.info->kind);
    std::vector<const cv::Variant*> chosen;
    for (const cv::Variant& v : cv::variants(family))
      if (choice_.all ? true : choice_.number == 0 ? v.production : v.number == choice_.number) chosen.push_back(&v);
    if (chosen.empty() && warned_families_.insert(cv::family_name(family)).second)
      std::fprintf(stderr, "kernel_bench: %s kernels have variants 1..%zu only; --variant %d skips their rows\n",
                   cv::family_name(family), cv::variants(family).size(), choice_.number);
    const bool backward = c.direction == "backward";
    const uint64_t seed = s_.options().seed;
    cv::Args a;
    a.id = c.info->id, a.backward = backward, a.n = b.n, a.rows = b.rows, a.cols = b.cols;
    a.p = default_params<float>(c.info->id);
    a.drop_p = static_cast<float>(c.info->param_defaults[0]);
    a.seed = seed;
    switch (family) {  // the same buffers as make_cases gives the production call
      case cv::Family::Elementwise: a.in = b.x, a.in2 = backward ? b.dy : nullptr, a.out = backward ? b.dx : b.y; break;
      case cv::Family::Rowwise: a.in = backward ? b.y : b.x, a.in2 = backward ? b.dy : nullptr, a.out = backward ? b.dx : b.y; break;
      case cv::Family::Dropout:
        a.in = backward ? b.dy : b.x, a.out = backward ? b.dx : b.y, a.mask = b.mask;
        break;
    }
    for (const cv::Variant* v : chosen) {
      const std::string key = c.function + "/" + c.direction + "/" + std::to_string(b.cols) + "/" + std::to_string(v->number);
      auto cached = validations_.find(key);
      if (cached == validations_.end())
        cached = validations_.emplace(key, cv::validate(family, *v, c.info->id, backward, b.cols, a.drop_p, seed)).first;
      if (!cached->second.ok) {
        const std::string what = c.function + " " + c.direction + " variant " + std::to_string(v->number) + " (" +
                                 v->name + "): FAILED validation against the scalar reference, not timed: " +
                                 cached->second.detail;
        std::printf("cuda   %s\n", what.c_str());
        std::fflush(stdout);
        std::fprintf(stderr, "kernel_bench: %s\n", what.c_str());
        s_.record_validation_failure({{"function", c.function}, {"kind", c.kind}, {"direction", c.direction},
                                      {"cols", b.cols}, {"variant", v->number}, {"variant_name", v->name},
                                      {"detail", cached->second.detail}});
        continue;
      }
      for (auto& p : prepare) p();  // row-wise backward reads the forward output: recompute it
      KernelRow r = base;
      r.variant = v->number, r.variant_name = v->name, r.production = v->production;
      const cv::Launch launch = v->launch;
      // Dropout variants other than production draw again and never touch the mask: they move
      // the two float arrays only.
      const double bytes = family == cv::Family::Dropout && !v->production ? 2.0 * sizeof(float) * b.n : c.bytes;
      s_.measure(r, bytes, [launch, a] { launch(a, nullptr); }, sync, copy);
    }
  }

 private:
  Session& s_;
  const VariantChoice choice_;
  std::map<std::string, ip::cuda::variants::Validation> validations_;
  std::set<std::string> warned_families_;
};
#endif

}  // namespace

void run_kernels_cuda(Session& s, const std::vector<const FunctionInfo*>& functions,
                      const std::vector<std::size_t>& sizes, const std::vector<std::string>& dirs,
                      const VariantChoice& choice) {
  const Options& opt = s.options();
  auto sync = [] { ip::cuda::synchronize(); };
#ifdef IP_HAVE_CUDA_VARIANTS
  VariantRunner variants(s, choice);
#else
  (void)choice;
#endif
  for (std::size_t requested : sizes) {
    Buffers b = shape_of(requested, opt.cols);
    HostArray hx = host_alloc(b.n), hdy = host_alloc(b.n);
    fill_normal(hx.get(), b.n, 4.0f, opt.seed);
    fill_normal(hdy.get(), b.n, 4.0f, opt.seed + 1);
    DeviceArray x(b.n), dy(b.n), y(b.n), dx(b.n), copy_out(b.n), mask(mask_words(b.n));
    ip::cuda::copy_to_device(x.p, hx.get(), b.n * sizeof(float));
    ip::cuda::copy_to_device(dy.p, hdy.get(), b.n * sizeof(float));
    ip::cuda::copy_to_device(y.p, hx.get(), b.n * sizeof(float));  // outputs written once before timing
    ip::cuda::copy_to_device(dx.p, hdy.get(), b.n * sizeof(float));
    b.x = x.p, b.dy = dy.p, b.y = y.p, b.dx = dx.p;
    b.mask = reinterpret_cast<std::uint32_t*>(mask.p);
    // Into an array of its own, as on the CPU: it runs between every kernel's samples.
    const std::function<void()> copy = s.measure_copies(
        s.base_row("cuda", "-", 0, b),
        {{"copy:cudaMemcpy",
          [&] {
            cuda_check(cudaMemcpyAsync(copy_out.p, b.x, b.n * sizeof(float), cudaMemcpyDeviceToDevice, nullptr),
                       "cudaMemcpyAsync");
          }}},
        sync);
    for (const FunctionInfo* f : functions) {
      std::vector<std::function<void()>> prepare;
      for (Case& c : make_cases(Device::Cuda, *f, b, dirs, opt.seed, prepare)) {
        KernelRow r = s.base_row("cuda", "-", 0, b);
        r.function = c.function, r.key = function_key(*c.info), r.kind = c.kind, r.direction = c.direction;
#ifdef IP_HAVE_CUDA_VARIANTS
        // RReLU's train mode ("rrelu:train") has no numbered variants: its production kernel only.
        if (c.function.find(":train") == std::string::npos) {
          variants.run(r, c, b, prepare, sync, copy);
          continue;
        }
#endif
        for (auto& p : prepare) p();
        s.measure(r, c.bytes, c.call, sync, copy);
      }
    }
  }
}

}  // namespace ip::bench
#endif  // INFERENCEPOWER_HAVE_CUDA
