// Model files: bit-exact round trip and a clear error naming the file for every kind of damage.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "engine/model_file.h"
#include "tests/temp_dir.h"

namespace ip {
namespace {

class EngineModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/model.ipm";
  }

  std::vector<unsigned char> bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::string write(const std::string& name, const std::vector<unsigned char>& b) {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
    return p;
  }
  // Loading `file` into `model` fails with a std::runtime_error naming the file and `reason`.
  static void expect_error(Sequential& model, const std::string& file, const std::string& reason) {
    try {
      load_parameters(model, file);
      ADD_FAILURE() << file << " loaded; expected: " << reason;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file), std::string::npos) << what;
      EXPECT_NE(what.find(reason), std::string::npos) << what << " (expected: " << reason << ")";
    }
  }

  const std::string desc_ = "linear(6,5) prelu gelu linear(5,3)";
  test::TempDir temp_;
  std::string dir_ = temp_.path().string(), path_;
};

TEST_F(EngineModelFile, RoundTripIsBitExact) {
  Sequential a = Sequential::parse(desc_, 3);
  *a.parameters()[2].value->data() = -0.123456789f;  // the PReLU weight is saved too
  save_model(a, path_);
  Sequential b = load_model(path_);
  EXPECT_EQ(b.describe(), desc_);
  const std::vector<Parameter> pa = a.parameters(), pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::vector<float> va = pa[i].value->to_vector(), vb = pb[i].value->to_vector();
    ASSERT_EQ(va.size(), vb.size());
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * 4), 0) << pa[i].name;
  }
  Sequential c = Sequential::parse(desc_, 4);  // other values, same layout
  load_parameters(c, path_);
  EXPECT_EQ(c.parameters()[0].value->to_vector(), pa[0].value->to_vector());
  // Saving again replaces the file and leaves no temporary file behind.
  save_model(c, path_);
  std::vector<std::string> names;
  DIR* d = ::opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  ::closedir(d);
  EXPECT_EQ(names, std::vector<std::string>{"model.ipm"});
}

TEST_F(EngineModelFile, EachKindOfDamageIsReported) {
  Sequential model = Sequential::parse(desc_, 3);
  save_model(model, path_);
  const std::vector<unsigned char> good = bytes();

  std::vector<unsigned char> b = good;
  b[0] = 'X';
  expect_error(model, write("magic", b), "wrong magic");

  b = good;
  b[8] = 7;  // version u32 at offset 8
  expect_error(model, write("version", b), "unknown format version 7");

  for (size_t cut : {size_t{0}, size_t{5}, size_t{10}, size_t{20}, good.size() / 2,
                     good.size() - 5, good.size() - 1}) {
    const std::vector<unsigned char> t(good.begin(), good.begin() + cut);
    const std::string reason = cut < 8 ? "wrong magic" : "truncated";
    expect_error(model, write("cut" + std::to_string(cut), t), reason);
  }

  // A flipped bit anywhere in the description or data is caught by the checksum.
  for (size_t at : {size_t{20}, good.size() / 2, good.size() - 6}) {
    b = good;
    b[at] ^= 0x10;
    expect_error(model, write("flip" + std::to_string(at), b), "checksum mismatch");
  }

  Sequential other = Sequential::parse("linear(6,5) prelu tanh linear(5,3)", 3);
  expect_error(other, path_, "expected 'linear(6,5) prelu tanh linear(5,3)'");
  Sequential wider = Sequential::parse("linear(6,7) prelu gelu linear(7,3)", 3);
  expect_error(wider, path_, "holds model");
}

// Header fields patched to absurd values (with a valid checksum, so the size check itself
// must catch them) are refused before anything that size is allocated.
TEST_F(EngineModelFile, AbsurdSizesAreRefused) {
  Sequential model = Sequential::parse(desc_, 3);
  save_model(model, path_);
  const std::vector<unsigned char> good = bytes();
  const size_t desc_len_at = 12, n_params_at = 16 + desc_.size(), first_dim_at = n_params_at + 8;
  auto patch = [&](size_t at, uint64_t value, int width, const std::string& name) {
    std::vector<unsigned char> b = good;
    for (int i = 0; i < width; ++i) b[at + i] = static_cast<unsigned char>(value >> (8 * i));
    return write(name, b);
  };
  expect_error(model, patch(desc_len_at, 0xFFFFFFF0u, 4, "desc"), "absurd description length");
  expect_error(model, patch(n_params_at, 0x7FFFFFFFu, 4, "count"), "absurd parameter count");
  expect_error(model, patch(n_params_at, 5000, 4, "count2"), "truncated");
  expect_error(model, patch(n_params_at + 4, 9, 4, "rank"), "absurd rank");
  expect_error(model, patch(first_dim_at, uint64_t{1} << 60, 8, "dim"), "declares dimension");
}

// A model file cut short (a full disk under an older build, a copy interrupted) is reported as
// truncated, whatever its shapes are: a dimension larger than what is left of the file is not
// an absurd value.
TEST_F(EngineModelFile, TruncatedLargeModelSaysTruncated) {
  Sequential model = Sequential::parse("linear(256,256) relu linear(256,16)", 3);
  save_model(model, path_);
  std::vector<unsigned char> b = bytes();
  b.resize(b.size() / 8);
  const std::string file = write("cut_large", b);
  expect_error(model, file, "truncated");
  try {
    load_parameters(model, file);
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("absurd"), std::string::npos) << e.what();
  }
}

// The description is parsed into layers before the shapes are compared, so its sizes must be
// bounded by the data the file holds: a damaged description (checksum recomputed, as a fuzzer
// or a careless tool would) naming a 2^24 × 2^24 layer is refused instead of allocated.
// Found by tests/fuzz/fuzz_model_file.cc.
TEST_F(EngineModelFile, DescriptionLargerThanItsDataIsRefusedBeforeBuilding) {
  Sequential small = Sequential::parse("linear(1,1)", 3);
  save_model(small, path_);
  const std::vector<unsigned char> good = bytes();
  auto with_description = [&](const std::string& desc, const std::string& name) {
    std::vector<unsigned char> b(good.begin(), good.begin() + 12);  // magic and version
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(desc.size() >> (8 * i)));
    b.insert(b.end(), desc.begin(), desc.end());
    // Parameter table and data unchanged: after the old description, up to the old checksum.
    b.insert(b.end(), good.begin() + 16 + 11, good.end() - 4);
    const uint32_t crc = static_cast<uint32_t>(crc32(0L, b.data(), static_cast<uInt>(b.size())));
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(crc >> (8 * i)));
    return write(name, b);
  };
  // Sanity of the patching itself: the unchanged description still loads.
  EXPECT_EQ(load_model(with_description("linear(1,1)", "same")).describe(), "linear(1,1)");
  for (const std::string desc : {"linear(16777216,16777216)", "linear(1,1) linear(1,1)"}) {
    const std::string file = with_description(desc, "big");
    try {
      load_model(file);
      ADD_FAILURE() << desc << " loaded";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file), std::string::npos) << what;
      EXPECT_NE(what.find("more than the 2 allowed"), std::string::npos) << what;
    }
  }
}

// A save that fails (here: write() hits a file-size limit, as on a full disk; this works for
// root too, unlike permission bits) names the file, leaves the previous model file intact and
// no temporary file behind.
TEST_F(EngineModelFile, FailedSaveKeepsThePreviousFile) {
  Sequential small = Sequential::parse("linear(2,2)", 3);
  save_model(small, path_);
  const std::vector<unsigned char> before = bytes();
  Sequential big = Sequential::parse("linear(64,64)", 3);  // about 17 KB
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string error;
  try {
    save_model(big, path_);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find(path_), std::string::npos) << error;
  EXPECT_NE(error.find("write failed"), std::string::npos) << error;
  EXPECT_EQ(bytes(), before);
  std::vector<std::string> names;
  DIR* d = ::opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  while (const dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.push_back(e->d_name);
  ::closedir(d);
  EXPECT_EQ(names, std::vector<std::string>{"model.ipm"});
}

TEST_F(EngineModelFile, SaveIntoMissingDirectoryNamesIt) {
  Sequential model = Sequential::parse("linear(2,2)", 3);
  const std::string path = dir_ + "/absent/model.ipm";
  try {
    save_model(model, path);
    ADD_FAILURE() << "saved into a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(EngineModelFile, MissingFileNamesIt) {
  Sequential model = Sequential::parse(desc_, 3);
  expect_error(model, dir_ + "/absent.ipm", "cannot open");
}

}  // namespace
}  // namespace ip
