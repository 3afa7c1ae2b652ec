# inferencepower front door. `make test` and `make run` install missing Debian packages
# (tests/install-deps.sh), configure with CMake (Release), build, then test or run.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
GOLDEN     ?= tests/golden/activations.json

.PHONY: all deps configure build test run clean

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

clean:
	rm -rf $(BUILD_DIR)
