# inferencepower front door. `make test` and `make run` install missing Debian packages
# (tests/install-deps.sh), configure with CMake (Release), build, then test or run.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
GOLDEN     ?= tests/golden/activations.json

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
SANITIZE_ENV  = ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build test run clean test-sanitize fuzz

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

# The main job. For now: check every kernel backend against the PyTorch golden values.
run: build
	$(BUILD_DIR)/check_kernels --golden $(GOLDEN)

test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERENCEPOWER_CUDA=OFF \
	  -DINFERENCEPOWER_SANITIZE=address,undefined $(CMAKE_ARGS) >/dev/null \
	  || cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFERENCEPOWER_CUDA=OFF \
	  -DINFERENCEPOWER_SANITIZE=address,undefined $(CMAKE_ARGS)
	$(SANITIZE_ENV) cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) --timeout $(SANITIZE_TIMEOUT)

fuzz:
	@bash tests/install-deps.sh fuzz
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DINFERENCEPOWER_FUZZ=ON >/dev/null \
	  || cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DINFERENCEPOWER_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZERS)

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)
