// The IDX loader and MNIST loading: round trips of tiny files written here (raw and gzip), every
// kind of corruption refused with the file named, the directory search, and — when the shared
// copy of MNIST is present — the real test split.
#include <sys/resource.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "experiments/common/idx.h"
#include "experiments/common/mnist.h"
#include "tests/temp_dir.h"

namespace ip {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using test::TempDir;

Bytes idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes out;
  auto be32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  };
  be32(magic);
  for (uint32_t d : dims) be32(d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes gzip(const Bytes& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, raw.size()));
  zs.next_in = const_cast<Bytes::value_type*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The message of the std::runtime_error that f throws ("" when it does not throw).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

Bytes labels_data() { return {7, 2, 1, 0, 4, 1, 9}; }
Bytes image_data(uint32_t count, uint32_t rows, uint32_t cols) {
  Bytes px(static_cast<std::size_t>(count) * rows * cols);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37 % 256);
  return px;
}

// ---------------------------------------------------------------- IDX

TEST(Idx, RawRoundTrip) {
  TempDir dir;
  write_file(dir.file("labels"), idx_bytes(kIdxMagicLabels, {7}, labels_data()));
  write_file(dir.file("images"), idx_bytes(kIdxMagicImages, {2, 3, 4}, image_data(2, 3, 4)));
  EXPECT_EQ(read_idx_labels(dir.file("labels")), labels_data());
  IdxImages img = read_idx_images(dir.file("images"));
  EXPECT_EQ(img.count, 2u);
  EXPECT_EQ(img.rows, 3u);
  EXPECT_EQ(img.cols, 4u);
  EXPECT_EQ(img.pixels, image_data(2, 3, 4));
}

TEST(Idx, GzipRoundTripDetectedByContent) {
  TempDir dir;
  write_file(dir.file("labels.gz"), gzip(idx_bytes(kIdxMagicLabels, {7}, labels_data())));
  // No .gz suffix: the magic bytes decide.
  write_file(dir.file("images"), gzip(idx_bytes(kIdxMagicImages, {2, 3, 4}, image_data(2, 3, 4))));
  EXPECT_EQ(read_idx_labels(dir.file("labels.gz")), labels_data());
  EXPECT_EQ(read_idx_images(dir.file("images")).pixels, image_data(2, 3, 4));
}

TEST(Idx, EmptyDimensionLoadsEmpty) {
  TempDir dir;
  write_file(dir.file("labels"), idx_bytes(kIdxMagicLabels, {0}, {}));
  EXPECT_TRUE(read_idx_labels(dir.file("labels")).empty());
}

TEST(Idx, WrongMagicRefused) {
  TempDir dir;
  std::string labels = dir.file("labels");
  write_file(labels, idx_bytes(kIdxMagicLabels, {7}, labels_data()));
  std::string msg = error_of([&] { read_idx_images(labels); });
  EXPECT_TRUE(contains(msg, labels) && contains(msg, "0x00000801") && contains(msg, "0x00000803"))
      << msg;

  std::string floats = dir.file("floats");  // type 0x0D (float32) is valid IDX but not ours
  write_file(floats, idx_bytes(0x00000D01, {1}, {0, 0, 0, 0}));
  msg = error_of([&] { read_idx_labels(floats); });
  EXPECT_TRUE(contains(msg, floats) && contains(msg, "not an IDX file of unsigned bytes")) << msg;
}

TEST(Idx, TruncatedRefused) {
  TempDir dir;
  Bytes full = idx_bytes(kIdxMagicImages, {2, 3, 4}, image_data(2, 3, 4));

  std::string raw = dir.file("raw");
  write_file(raw, Bytes(full.begin(), full.end() - 1));
  std::string msg = error_of([&] { read_idx_images(raw); });
  EXPECT_TRUE(contains(msg, raw) && contains(msg, "truncated")) << msg;

  std::string header = dir.file("header");  // ends inside the dimensions
  write_file(header, Bytes(full.begin(), full.begin() + 9));
  msg = error_of([&] { read_idx_images(header); });
  EXPECT_TRUE(contains(msg, header) && contains(msg, "header")) << msg;

  std::string empty = dir.file("empty");
  write_file(empty, {});
  msg = error_of([&] { read_idx_images(empty); });
  EXPECT_TRUE(contains(msg, empty) && contains(msg, "header")) << msg;

  // Decompressed stream shorter than declared, but a valid gzip file.
  std::string short_gz = dir.file("short.gz");
  write_file(short_gz, gzip(Bytes(full.begin(), full.end() - 5)));
  msg = error_of([&] { read_idx_images(short_gz); });
  EXPECT_TRUE(contains(msg, short_gz) && contains(msg, "truncated")) << msg;

  // The compressed file itself cut: mid-stream, and just before the CRC trailer's end.
  Bytes gz = gzip(full);
  std::string cut = dir.file("cut.gz");
  write_file(cut, Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  msg = error_of([&] { read_idx_images(cut); });
  EXPECT_TRUE(contains(msg, cut) && contains(msg, "truncated")) << msg;
  std::string no_trailer = dir.file("no_trailer.gz");
  write_file(no_trailer, Bytes(gz.begin(), gz.end() - 3));
  msg = error_of([&] { read_idx_images(no_trailer); });
  EXPECT_TRUE(contains(msg, no_trailer) && contains(msg, "truncated")) << msg;
}

TEST(Idx, TrailingBytesRefused) {
  TempDir dir;
  Bytes full = idx_bytes(kIdxMagicLabels, {7}, labels_data());
  Bytes longer = full;
  longer.push_back(3);

  std::string raw = dir.file("raw");
  write_file(raw, longer);
  std::string msg = error_of([&] { read_idx_labels(raw); });
  EXPECT_TRUE(contains(msg, raw) && contains(msg, "trailing")) << msg;

  std::string inside = dir.file("inside.gz");  // extra byte inside the compressed stream
  write_file(inside, gzip(longer));
  msg = error_of([&] { read_idx_labels(inside); });
  EXPECT_TRUE(contains(msg, inside) && contains(msg, "trailing")) << msg;

  std::string after = dir.file("after.gz");  // garbage after a complete gzip stream
  Bytes gz = gzip(full);
  gz.insert(gz.end(), {'j', 'u', 'n', 'k'});
  write_file(after, gz);
  msg = error_of([&] { read_idx_labels(after); });
  EXPECT_TRUE(contains(msg, after) && contains(msg, "trailing bytes after the gzip stream")) << msg;
}

TEST(Idx, AbsurdDimensionsRefusedBeforeAllocating) {
  TempDir dir;
  // 100000^3 bytes: the product passes 1e9 at the second dimension.
  std::string huge = dir.file("huge");
  write_file(huge, idx_bytes(kIdxMagicImages, {100000, 100000, 100000}, {1, 2, 3}));
  std::string msg = error_of([&] { read_idx_images(huge); });
  EXPECT_TRUE(contains(msg, huge) && contains(msg, "absurd") && contains(msg, "refusing to allocate"))
      << msg;

  // 2^32-1 labels: beyond the cap on its own.
  std::string labels = dir.file("labels");
  write_file(labels, idx_bytes(kIdxMagicLabels, {0xFFFFFFFFu}, {1}));
  msg = error_of([&] { read_idx_labels(labels); });
  EXPECT_TRUE(contains(msg, labels) && contains(msg, "absurd")) << msg;

  // Under the cap but far more than a tiny gzip file can inflate to.
  std::string gz = dir.file("big.gz");
  write_file(gz, gzip(idx_bytes(kIdxMagicImages, {500000, 28, 28}, {1, 2, 3})));
  msg = error_of([&] { read_idx_images(gz); });
  EXPECT_TRUE(contains(msg, gz) && contains(msg, "refusing to allocate")) << msg;

  // A raw file declaring 400 MB: its size is compared before the buffer exists.
  std::string raw = dir.file("big");
  write_file(raw, idx_bytes(kIdxMagicImages, {500000, 28, 28}, {1, 2, 3}));
  msg = error_of([&] { read_idx_images(raw); });
  EXPECT_TRUE(contains(msg, raw) && contains(msg, "truncated")) << msg;

  // The cap is a parameter.
  std::string small = dir.file("small");
  write_file(small, idx_bytes(kIdxMagicLabels, {7}, labels_data()));
  msg = error_of([&] { read_idx(small, kIdxMagicLabels, 6); });
  EXPECT_TRUE(contains(msg, "absurd")) << msg;
}

// A gzip file may declare up to 1032 times its size. Its buffer must follow the data that really
// inflates, not the header: with 64 MiB of address space to spare, a 600 KB file declaring 600 MB
// is refused as truncated, not with bad_alloc. (Sanitizers reserve far more than such a limit.)
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(Idx, GzipMemoryFollowsTheInflatedData) {
  TempDir dir;
  Bytes noise(600000);  // incompressible, so the file is big enough for the declared size
  uint32_t x = 12345;
  for (uint8_t& b : noise) b = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  const std::string gz = dir.file("claims-600MB.gz");
  write_file(gz, gzip(idx_bytes(kIdxMagicImages, {600000, 1000, 1}, noise)));
  ASSERT_LT(600000000 / 1032, static_cast<long>(fs::file_size(gz))) << "within deflate's bound";
  // In a child process: 0 when refused as truncated, 2 when it ran out of memory.
  auto load_with_small_heap = [&] {
    // 64 MiB more address space than the process holds now (threads' stacks included).
    std::ifstream status("/proc/self/status");
    unsigned long long kib = 0;
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmSize:", 0) == 0) kib = std::strtoull(line.c_str() + 7, nullptr, 10);
    if (kib == 0) std::_Exit(5);
    rlimit limit;
    limit.rlim_cur = limit.rlim_max = (kib << 10) + (64u << 20);
    setrlimit(RLIMIT_AS, &limit);
    try {
      read_idx_images(gz);
    } catch (const std::bad_alloc&) {
      std::_Exit(2);
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::_Exit(contains(e.what(), gz) && contains(e.what(), "truncated") ? 0 : 3);
    }
    std::_Exit(4);
  };
  EXPECT_EXIT(load_with_small_heap(), ::testing::ExitedWithCode(0), "only 600000 follow");
}
#endif

TEST(Idx, BadLabelRefused) {
  TempDir dir;
  std::string path = dir.file("labels");
  write_file(path, idx_bytes(kIdxMagicLabels, {4}, {1, 2, 10, 3}));
  std::string msg = error_of([&] { read_idx_labels(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "label 10 at index 2")) << msg;
  EXPECT_EQ(read_idx_labels(path, 0).size(), 4u);  // unchecked when asked
  EXPECT_EQ(read_idx_labels(path, 11).size(), 4u);
}

TEST(Idx, GarbageRefused) {
  TempDir dir;
  std::string text = dir.file("text");
  write_file(text, {'<', 'h', 't', 'm', 'l', '>', '4', '0', '4', '\n'});
  std::string msg = error_of([&] { read_idx_images(text); });
  EXPECT_TRUE(contains(msg, text) && contains(msg, "not an IDX file")) << msg;

  std::string fake_gz = dir.file("fake.gz");  // gzip magic, then nonsense
  write_file(fake_gz, {0x1f, 0x8b, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42});
  msg = error_of([&] { read_idx_images(fake_gz); });
  EXPECT_TRUE(contains(msg, fake_gz) && contains(msg, "corrupt gzip")) << msg;

  std::string bad_crc = dir.file("bad_crc.gz");
  Bytes gz = gzip(idx_bytes(kIdxMagicLabels, {7}, labels_data()));
  gz[gz.size() - 8] ^= 0xff;  // first byte of the CRC-32 in the trailer
  write_file(bad_crc, gz);
  msg = error_of([&] { read_idx_labels(bad_crc); });
  EXPECT_TRUE(contains(msg, bad_crc) && contains(msg, "corrupt gzip")) << msg;
}

TEST(Idx, MissingFileAndDirectoryRefused) {
  TempDir dir;
  std::string missing = dir.file("nope");
  std::string msg = error_of([&] { read_idx_labels(missing); });
  EXPECT_TRUE(contains(msg, missing) && contains(msg, "cannot open")) << msg;
  msg = error_of([&] { read_idx_labels(dir.path()); });
  EXPECT_TRUE(contains(msg, dir.path()) && !msg.empty()) << msg;
}

// ---------------------------------------------------------------- MNIST

// Writes a split of `count` 28×28 images (labels i % 10) into dir, gzip or raw.
void write_split(const TempDir& dir, const std::string& prefix, uint32_t images, uint32_t labels,
                 bool gz, uint32_t cols = 28) {
  Bytes img = idx_bytes(kIdxMagicImages, {images, 28, cols}, image_data(images, 28, cols));
  Bytes lab_data(labels);
  for (uint32_t i = 0; i < labels; ++i) lab_data[i] = static_cast<uint8_t>(i % 10);
  Bytes lab = idx_bytes(kIdxMagicLabels, {labels}, lab_data);
  std::string suffix = gz ? ".gz" : "";
  write_file(dir.file(prefix + "-images-idx3-ubyte" + suffix), gz ? gzip(img) : img);
  write_file(dir.file(prefix + "-labels-idx1-ubyte" + suffix), gz ? gzip(lab) : lab);
}

TEST(Mnist, LoadsScaledImagesAndLabels) {
  TempDir dir;
  write_split(dir, "t10k", 12, 12, /*gz=*/true);
  Dataset ds = load_mnist(dir.path(), MnistSplit::Test);
  ASSERT_EQ(ds.count, 12u);
  ASSERT_EQ(ds.images.size(), 12u * 784);
  Bytes px = image_data(12, 28, 28);
  for (std::size_t i = 0; i < px.size(); ++i) ASSERT_FLOAT_EQ(ds.images[i], px[i] / 255.0f) << i;
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(ds.labels[i], i % 10);
  EXPECT_TRUE(contains(ds.images_path, "t10k-images-idx3-ubyte.gz"));

  Dataset few = load_mnist(dir.path(), MnistSplit::Test, MnistKind::Mnist, 5);
  EXPECT_EQ(few.count, 5u);
  EXPECT_EQ(few.images.size(), 5u * 784);
  EXPECT_EQ(few.labels.size(), 5u);
  EXPECT_EQ(load_mnist(dir.path(), MnistSplit::Test, MnistKind::Mnist, 100).count, 12u);
}

TEST(Mnist, RawFilesAndTrainSplit) {
  TempDir dir;
  write_split(dir, "train", 3, 3, /*gz=*/false);
  Dataset ds = load_mnist(dir.path(), MnistSplit::Train, MnistKind::Fashion);
  EXPECT_EQ(ds.count, 3u);
  EXPECT_TRUE(contains(ds.labels_path, "train-labels-idx1-ubyte"));
}

TEST(Mnist, CountMismatchNamesBothFiles) {
  TempDir dir;
  write_split(dir, "train", 10, 9, /*gz=*/true);
  std::string msg = error_of([&] { load_mnist(dir.path(), MnistSplit::Train); });
  EXPECT_TRUE(contains(msg, "train-images-idx3-ubyte.gz") && contains(msg, "train-labels-idx1-ubyte.gz") &&
              contains(msg, "10 images") && contains(msg, "9 labels"))
      << msg;
}

TEST(Mnist, WrongImageSizeRefused) {
  TempDir dir;
  write_split(dir, "t10k", 2, 2, /*gz=*/false, /*cols=*/27);
  std::string msg = error_of([&] { load_mnist(dir.path(), MnistSplit::Test); });
  EXPECT_TRUE(contains(msg, "t10k-images-idx3-ubyte") && contains(msg, "28x27")) << msg;
}

TEST(Mnist, MissingFilesNamed) {
  TempDir dir;
  write_split(dir, "train", 2, 2, /*gz=*/true);  // no test split here
  std::string msg = error_of([&] { load_mnist(dir.path(), MnistSplit::Test); });
  EXPECT_TRUE(contains(msg, "t10k-images-idx3-ubyte") && contains(msg, "not found")) << msg;
}

// Sets an environment variable for the scope of a test, restoring the old value afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Mnist, SearchOrder) {
  ScopedEnv mnist("MNIST_DIR", "/from/env");
  ScopedEnv fashion("FASHION_MNIST_DIR", nullptr);
  EXPECT_EQ(mnist_search_dirs("/from/cli", MnistKind::Mnist), std::vector<std::string>{"/from/cli"});
  EXPECT_EQ(mnist_search_dirs("", MnistKind::Mnist), std::vector<std::string>{"/from/env"});
  EXPECT_EQ(mnist_search_dirs("", MnistKind::Fashion),
            (std::vector<std::string>{"data/fashion-mnist", "/usr/share/datasets/fashion-mnist"}));
  {
    ScopedEnv unset("MNIST_DIR", "");  // empty counts as unset
    EXPECT_EQ(mnist_search_dirs("", MnistKind::Mnist), std::vector<std::string>{"data/mnist"});
  }
}

TEST(Mnist, ResolveFindsDirectoryOrListsPlacesSearched) {
  TempDir dir;
  write_split(dir, "t10k", 2, 2, /*gz=*/true);
  EXPECT_EQ(resolve_mnist_dir(dir.path(), MnistKind::Mnist, MnistSplit::Test), dir.path());

  std::string msg = error_of([&] { resolve_mnist_dir(dir.path(), MnistKind::Mnist, MnistSplit::Train); });
  EXPECT_TRUE(contains(msg, dir.path()) && contains(msg, "--data-dir") &&
              contains(msg, "train-images-idx3-ubyte") && contains(msg, "download_mnist.sh"))
      << msg;

  {
    ScopedEnv env("MNIST_DIR", dir.file("elsewhere").c_str());
    msg = error_of([&] { resolve_mnist_dir("", MnistKind::Mnist, MnistSplit::Test); });
    EXPECT_TRUE(contains(msg, dir.file("elsewhere")) && contains(msg, "$MNIST_DIR")) << msg;
  }
  {
    ScopedEnv env("FASHION_MNIST_DIR", nullptr);
    // Run from a directory with no data/ so that only the system path could match.
    fs::path old = fs::current_path();
    fs::current_path(dir.path());
    msg = error_of([&] { resolve_mnist_dir("", MnistKind::Fashion, MnistSplit::Test); });
    fs::current_path(old);
    if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
      EXPECT_TRUE(contains(msg, "data/fashion-mnist") &&
                  contains(msg, "/usr/share/datasets/fashion-mnist") &&
                  contains(msg, "dataset-fashion-mnist"))
          << msg;
    }
  }
}

TEST(Mnist, ParsesNames) {
  EXPECT_EQ(parse_mnist_split("train"), MnistSplit::Train);
  EXPECT_EQ(parse_mnist_split("test"), MnistSplit::Test);
  EXPECT_EQ(parse_mnist_kind("fashion-mnist"), MnistKind::Fashion);
  EXPECT_EQ(parse_mnist_kind("mnist"), MnistKind::Mnist);
  EXPECT_THROW(parse_mnist_split("validation"), std::invalid_argument);
  EXPECT_THROW(parse_mnist_kind("cifar"), std::invalid_argument);
}

// The real data set, when the shared copy exists next to the project (never downloaded here).
TEST(Mnist, RealTestSplit) {
  std::string dir;
  for (const char* candidate : {"/work/shared/data/mnist", "../shared/data/mnist"})
    if (fs::exists(fs::path(candidate) / "t10k-labels-idx1-ubyte.gz") ||
        fs::exists(fs::path(candidate) / "t10k-labels-idx1-ubyte"))
      dir = candidate;
  if (dir.empty()) GTEST_SKIP() << "no shared MNIST copy at /work/shared/data/mnist or ../shared/data/mnist";
  Dataset ds = load_mnist(dir, MnistSplit::Test);
  ASSERT_EQ(ds.count, 10000u);
  EXPECT_EQ(ds.labels[0], 7);
  EXPECT_EQ(ds.labels[1], 2);
  double mean = 0;
  for (float p : ds.images) mean += p;
  mean /= static_cast<double>(ds.images.size());
  EXPECT_NEAR(mean, 0.1325, 0.002);  // MNIST's well-known pixel mean (0.1307 on train)
  std::vector<int> per_class(10, 0);
  for (uint8_t l : ds.labels) ++per_class[l];
  for (int c : per_class) EXPECT_GT(c, 800);
}

// A training set that is the test set (a copy over the training files) is refused; counts
// other than the standard split's are a warning; the standard split passes.
TEST(Mnist, SplitCheck) {
  auto dataset = [](std::size_t count, std::size_t file_count, float pixel, const std::string& path) {
    Dataset d;
    d.count = count;
    d.file_count = file_count;
    d.images.assign(count * kMnistPixels, pixel);
    d.labels.assign(count, 3);
    d.images_path = path;
    return d;
  };
  const Dataset test = dataset(20, 20, 0.5f, "t10k-images-idx3-ubyte");
  try {
    check_split(dataset(20, 20, 0.5f, "train-images-idx3-ubyte"), test);
    ADD_FAILURE() << "the test set as training set was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("train-images-idx3-ubyte are the test images t10k-images-idx3-ubyte"), std::string::npos)
        << what;
  }
  // --limit-train loads a part: the same images as far as both go, and equal file counts.
  EXPECT_THROW(check_split(dataset(5, 20, 0.5f, "train"), test), std::runtime_error);
  EXPECT_NE(check_split(dataset(20, 20, 0.25f, "train"), test).find("the standard split is 60000 and 10000"),
            std::string::npos);
  EXPECT_EQ(check_split(dataset(10, 60000, 0.25f, "train"), dataset(10, 10000, 0.5f, "test")), "");
}

}  // namespace
}  // namespace ip
