// The fuzzers' seed corpora (tests/fuzz/corpus/<fuzzer>/, written by tests/fuzz/make_corpus.py)
// go through the real parsers here: every valid-* seed must load and every bad-* seed must be
// refused with the documented std::runtime_error. A format change that silently turned the
// valid seeds into garbage would leave the fuzzers exploring nothing but the first check.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/model_file.h"
#include "experiments/common/idx.h"
#include "results/results.h"

namespace ip {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> seeds(const std::string& fuzzer) {
  const char* root = std::getenv("INFERENCEPOWER_SOURCE_DIR");
  const fs::path dir = fs::path(root ? root : ".") / "tests/fuzz/corpus" / fuzzer;
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Checks every seed of `fuzzer` with `load`; at least min_valid good and min_bad bad seeds.
void check_corpus(const std::string& fuzzer, const std::function<void(const std::string&)>& load,
                  int min_valid, int min_bad) {
  int valid = 0, bad = 0;
  for (const fs::path& p : seeds(fuzzer)) {
    const std::string name = p.filename().string();
    if (starts_with(name, "valid-")) {
      ++valid;
      EXPECT_NO_THROW(load(p.string())) << p;
    } else if (starts_with(name, "bad-")) {
      ++bad;
      try {
        load(p.string());
        ADD_FAILURE() << p << " was accepted";
      } catch (const std::runtime_error& e) {
        // Errors name the file, so a user with many files knows which one is damaged.
        EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
      }
    } else {
      ADD_FAILURE() << p << ": seeds are named valid-* or bad-*";
    }
  }
  EXPECT_GE(valid, min_valid) << fuzzer;
  EXPECT_GE(bad, min_bad) << fuzzer;
}

TEST(FuzzCorpus, IdxSeeds) {
  check_corpus(
      "idx",
      [](const std::string& path) {
        // Label seeds and image seeds: whichever magic the file has must load.
        try {
          read_idx_labels(path);
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()).find("expected 0x00000801") == std::string::npos) throw;
          read_idx_images(path);
        }
      },
      5, 8);
}

TEST(FuzzCorpus, ModelFileSeeds) {
  check_corpus("model_file", [](const std::string& path) { load_model(path); }, 3, 6);
}

TEST(FuzzCorpus, ResultSeeds) {
  check_corpus("results", [](const std::string& path) { read_result_file(path); }, 5, 5);
}

}  // namespace
}  // namespace ip
