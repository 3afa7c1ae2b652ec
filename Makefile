# inferencepower front door. `make test` and `make run` install missing Debian packages
# (tests/install-deps.sh), configure with CMake (Release), build, then test or run.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
GOLDEN     ?= tests/golden/activations.json
RESULTS    ?= data/results
# make run: every function in rounds paired with Identity at 10^2..10^4 instances, within a
# measuring budget that keeps the whole run (training included) under 5 minutes on 2 cores; the
# models train 20 Adam steps (2000 in make reproduce: docs/measuring.md shows the trained weights
# do not change the timings). RUN_SCALES=2-5 RUN_BUDGET=60m adds 10^5 (±1% there takes 45-55 minutes on 2 cores).
RUN_SCALES ?= 2-4
RUN_BUDGET ?= 200s
RUN_ARGS   ?= --functions all --scales $(RUN_SCALES) --budget $(RUN_BUDGET) --train-epochs 20
MNIST_ARGS ?=
# CI and this workspace keep MNIST in ../shared/data/mnist; elsewhere mnist_power searches
# $$MNIST_DIR and data/mnist/ (fill it with data/download_mnist.sh).
MNIST_DATA ?= $(if $(wildcard ../shared/data/mnist),--data-dir ../shared/data/mnist,)

# Reliability builds, each in its own directory so they never disturb the Release build:
# `make test-sanitize` runs the whole test suite under ASan + UBSan (gcc, CUDA off);
# `make fuzz` builds the libFuzzer harnesses of the file parsers (clang) and runs each for
# FUZZ_SECONDS from a scratch copy of its committed seed corpus (tests/fuzz/corpus/<name>).
SANITIZE_DIR ?= build-sanitize
FUZZ_DIR     ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZERS      ?= idx model_file results
# Sanitized tests run a few times slower than in Release: each gets SANITIZE_TIMEOUT seconds
# (ctest's own default would wait indefinitely on a hung test).
SANITIZE_TIMEOUT ?= 900
# -O1 with line tables only (-g1) compiles in about half the time of -O2 -g; reports still name
# file and line, and less inlining gives them fuller stacks.
SANITIZE_CMAKE = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
                 -DINFERENCEPOWER_CUDA=OFF -DINFERENCEPOWER_SANITIZE=address,undefined
SANITIZE_ENV  = ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# `make test-arm`: the aarch64 build (Debian's cross compiler, CUDA off) in ARM_DIR, its tests and
# check_kernels on every compiled Arm SIMD target, all under qemu-user (-cpu max, see
# cmake/aarch64-linux-gnu.cmake). tests/install-deps-arm.sh adds the packages, arm64 multiarch
# included. Emulated tests run several times slower: each gets ARM_TIMEOUT seconds.
ARM_DIR       ?= build-arm
ARM_TIMEOUT   ?= 900
ARM_CMAKE      = -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release
ARM_EMULATOR   = qemu-aarch64 -cpu max -L /

.PHONY: all deps configure build test run check-decisive mnist check-kernels bench compare-torch figures reproduce \
        test-sanitize test-arm fuzz clean

all: build

deps:
	@bash tests/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null \
	  || cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The main job: what each function costs on this machine. rand_power prints its progress and, at
# the end, the table of costs at the largest scale with their 95% intervals and the controls'
# check; then the figure of every cost with its interval. Trained models are cached in
# data/models, so a second run skips training.
run: build
	@dir=$(RESULTS)/run-$$(date +%Y%m%d-%H%M%S); \
	$(BUILD_DIR)/rand_power $(RUN_ARGS) --out $$dir > /dev/null && \
	$(BUILD_DIR)/figures --input $$dir --out $$dir/figures | grep -E '/relative_cost_[^/]*\.png$$' | sed 's/^/figure: /' && \
	echo "results: $$dir"

# Whether the default run answers its question here: two `make run`s in a row, then the controls,
# the precision, the agreement of the two runs and the time (experiments/check_decisive.py).
CHECK_OUT ?= $(RESULTS)/check-decisive-$(shell date +%Y%m%d-%H%M%S)
check-decisive: build
	python3 experiments/check_decisive.py --build-dir $(BUILD_DIR) --out $(CHECK_OUT) --run-args "$(RUN_ARGS)"

# The paper's MNIST time-to-90%-accuracy experiment with its defaults.
mnist: build
	$(BUILD_DIR)/mnist_power $(MNIST_DATA) $(MNIST_ARGS) --out $(RESULTS)

# Every kernel backend against the PyTorch golden values.
check-kernels: build
	$(BUILD_DIR)/check_kernels --golden $(GOLDEN)

# The kernel benchmark: every kernel at 256 MiB on 2 threads, forward and backward, the GEMM
# shapes of the experiments (and the 100000-row prediction chunk) against OpenBLAS in six
# alternating rounds (own/ref the median ratio, with its range, its 95% interval and whether
# that says faster, slower or indistinguishable: six is the fewest rounds that give one), then a pass/fail
# table per kernel against the bandwidth targets (kernel_bench --summary targets) with a
# compute-bound calibration that shows why a kernel misses.
# BENCH_TARGETS: the SIMD targets measured, each in its own rows and summary line. Default: the
# best one here, plus AVX2 when the best is an AVX-512 one (AVX3...), so that a regression on
# either shows; `kernel_bench --list-targets` lists what this machine has.
# BENCH_OMP_WAIT: OpenMP's wait policy for the run, empty = libgomp's default (spin briefly, then
# sleep), the same as OpenBLAS's own thread pool does. `passive` (sleep at once) is kinder to a
# shared machine but makes every parallel region wake a sleeping thread: on an idle Zen 4 VM that
# halved the measured FMA peak and put our ~1 ms GEMMs at 0.5-0.6x OpenBLAS (1.0-1.2x by default).
# OPENBLAS_CORETYPE=SkylakeX where the CPU has AVX-512: Debian's OpenBLAS 0.3.21 misdetects the
# AVX-512 CPUs of our reference VMs. Elsewhere OpenBLAS detects its core itself (it takes a named
# core without checking the CPU, so SkylakeX on an AVX2 CPU would run instructions it lacks). A
# value in the environment wins.
BENCH_OUT  ?= $(BUILD_DIR)/bench
BENCH_OMP_WAIT ?=
BENCH_TARGETS ?=
BENCH_ARGS ?= --functions all --directions forward,backward --sizes 256MiB --threads 2 \
              --gemm-shapes experiments --large-gemm --gemm-rounds 6 --summary targets
bench: build
	@mkdir -p $(BENCH_OUT)
	uptime
	@targets='$(BENCH_TARGETS)'; \
	if [ -z "$$targets" ]; then \
	  case ",$$($(BUILD_DIR)/kernel_bench --list-targets)," in \
	    ,AVX3*,AVX2,*) targets="$$($(BUILD_DIR)/kernel_bench --list-targets | cut -d, -f1),AVX2" ;; \
	    *) targets=auto ;; \
	  esac; \
	fi; \
	echo "kernel_bench $(BENCH_ARGS) --target $$targets"; \
	coretype="$${OPENBLAS_CORETYPE:-}"; \
	if [ -z "$$coretype" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then coretype=SkylakeX; fi; \
	$(if $(BENCH_OMP_WAIT),OMP_WAIT_POLICY=$(BENCH_OMP_WAIT)) env $${coretype:+OPENBLAS_CORETYPE=$$coretype} \
	  $(BUILD_DIR)/kernel_bench $(BENCH_ARGS) --target "$$targets" --out $(BENCH_OUT) 2>&1 | tee $(BENCH_OUT)/kernel_bench.txt

# Our kernels, rand_power (scales 0-6) and the MNIST training step against PyTorch's in one run,
# with a ratio and pass/fail per target. Optional: needs Debian's python3-torch for
# /usr/bin/python3; without it the script prints how to install it and exits 2. The function list
# comes from build/check_kernels --list-functions --json.
# COMPARE_ARGS=--quick for a smoke test (a few functions, small sizes, scales 0-3).
COMPARE_OUT  ?= $(BUILD_DIR)/compare-torch
COMPARE_ARGS ?=
compare-torch: build
	/usr/bin/python3 experiments/compare_torch.py --build-dir $(BUILD_DIR) --out $(COMPARE_OUT) \
	  $(if $(wildcard ../shared/data/mnist),--mnist-dir ../shared/data/mnist,) $(COMPARE_ARGS)

# ---- figures ----
# `make figures` draws every figure from data/reference/<platform>/ (shipped runs) and data/results/
# (your runs) into FIGURES_DIR, with the paper's own files as "paper:" series when PAPER_DIR exists.
FIGURES_DIR ?= data/figures
PAPER_DIR   ?= ../shared/reference/paper
FIGURE_ARGS ?=

figures: build
	$(BUILD_DIR)/figures --data data --out $(FIGURES_DIR) \
	  $(if $(wildcard $(PAPER_DIR)/*.json),--paper $(PAPER_DIR)) $(FIGURE_ARGS)

# `make reproduce` runs both experiments at the paper's settings on this machine, then draws.
# The paper's protocol (26 functions, 10^0..10^8 instances, 3 runs, 2000 training steps; MNIST to
# 90% or 100 epochs) takes days on a small CPU: rand_power prints its own estimate when it starts,
# and an interrupted run keeps every finished measurement. Override the arguments to shorten it.
REPRODUCE_RAND_ARGS  ?= --functions paper --scales 0-8 --runs 3 --train-epochs 2000
REPRODUCE_MNIST_ARGS ?= --functions paper --threshold 0.9 --max-epochs 100

reproduce: build
	@echo "reproduce: WARNING: the paper's full protocol; on a laptop or small VM this takes many hours"
	@echo "reproduce: (rand_power prints its estimate below; Ctrl-C keeps what is finished in data/results)."
	$(BUILD_DIR)/rand_power $(REPRODUCE_RAND_ARGS) --out data/results
	$(BUILD_DIR)/mnist_power $(REPRODUCE_MNIST_ARGS) $(MNIST_DATA) --out data/results
	$(MAKE) figures

test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) $(SANITIZE_CMAKE) $(CMAKE_ARGS) >/dev/null \
	  || cmake -S . -B $(SANITIZE_DIR) $(SANITIZE_CMAKE) $(CMAKE_ARGS)
	$(SANITIZE_ENV) cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) --timeout $(SANITIZE_TIMEOUT)

test-arm:
	@bash tests/install-deps-arm.sh
	@cmake -S . -B $(ARM_DIR) $(ARM_CMAKE) $(CMAKE_ARGS) >/dev/null \
	  || cmake -S . -B $(ARM_DIR) $(ARM_CMAKE) $(CMAKE_ARGS)
	cmake --build $(ARM_DIR) -j $(JOBS)
	cd $(ARM_DIR) && ctest --output-on-failure -j $(JOBS) --timeout $(ARM_TIMEOUT)
	$(ARM_EMULATOR) $(ARM_DIR)/check_kernels --golden $(GOLDEN)

fuzz:
	@bash tests/install-deps.sh fuzz
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DINFERENCEPOWER_FUZZ=ON >/dev/null \
	  || cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DINFERENCEPOWER_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZERS)


clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR) $(ARM_DIR)
