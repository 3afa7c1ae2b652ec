#include "experiments/common/mnist.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "experiments/common/idx.h"

namespace ip {
namespace {

// Installed by Debian's dataset-fashion-mnist (verified with `dpkg -c` on bookworm's package).
constexpr const char* kDebianFashionDir = "/usr/share/datasets/fashion-mnist";

bool is_regular_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

const char* images_base(MnistSplit split) {
  return split == MnistSplit::Train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
}
const char* labels_base(MnistSplit split) {
  return split == MnistSplit::Train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
}

// The file `base` in `dir`, uncompressed preferred (it loads faster); "" when neither exists.
std::string find_file(const std::string& dir, const std::string& base) {
  for (const std::string& name : {base, base + ".gz"}) {
    std::string path = join(dir, name);
    if (is_regular_file(path)) return path;
  }
  return "";
}

const char* env_var(MnistKind kind) {
  return kind == MnistKind::Mnist ? "MNIST_DIR" : "FASHION_MNIST_DIR";
}

}  // namespace

MnistSplit parse_mnist_split(const std::string& s) {
  if (s == "train") return MnistSplit::Train;
  if (s == "test") return MnistSplit::Test;
  throw std::invalid_argument("unknown MNIST split '" + s + "' (expected train or test)");
}

MnistKind parse_mnist_kind(const std::string& s) {
  if (s == "mnist") return MnistKind::Mnist;
  if (s == "fashion" || s == "fashion-mnist") return MnistKind::Fashion;
  throw std::invalid_argument("unknown data set '" + s + "' (expected mnist or fashion)");
}

const char* to_string(MnistSplit split) { return split == MnistSplit::Train ? "train" : "test"; }
const char* to_string(MnistKind kind) { return kind == MnistKind::Mnist ? "mnist" : "fashion"; }

std::vector<std::string> mnist_search_dirs(const std::string& cli_dir, MnistKind kind) {
  if (!cli_dir.empty()) return {cli_dir};
  const char* env = std::getenv(env_var(kind));
  if (env && *env) return {env};
  if (kind == MnistKind::Mnist) return {"data/mnist"};
  return {"data/fashion-mnist", kDebianFashionDir};
}

std::string resolve_mnist_dir(const std::string& cli_dir, MnistKind kind, MnistSplit split) {
  std::vector<std::string> dirs = mnist_search_dirs(cli_dir, kind);
  for (const std::string& dir : dirs) {
    if (!find_file(dir, images_base(split)).empty() && !find_file(dir, labels_base(split)).empty())
      return dir;
  }
  // Something of the right name that is not a file (a directory, say) is named as such.
  for (const std::string& dir : dirs)
    for (const char* base : {images_base(split), labels_base(split)})
      for (const std::string& name : {std::string(base), std::string(base) + ".gz"}) {
        const std::string path = join(dir, name);
        struct stat st;
        if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
          throw std::runtime_error(path + ": " + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
                                   ", where the " + to_string(kind) + " " + to_string(split) + " " +
                                   (name.find("labels") != std::string::npos ? "labels" : "images") +
                                   " IDX file should be");
      }
  // Say why only one place was searched when the user chose it.
  std::string origin;
  const char* env = std::getenv(env_var(kind));
  if (!cli_dir.empty())
    origin = " (given by --data-dir)";
  else if (env && *env)
    origin = std::string(" (from $") + env_var(kind) + ")";
  std::string msg = std::string("no ") + to_string(kind) + " " + to_string(split) +
                    " files (" + images_base(split) + "[.gz] and " + labels_base(split) +
                    "[.gz]) found; searched" + origin + ":";
  for (const std::string& dir : dirs) {
    msg += "\n  " + dir;
    // Relative places depend on where the program was started: say where that was.
    if (!dir.empty() && dir[0] != '/') msg += " (" + std::filesystem::absolute(dir).string() + ")";
  }
  if (kind == MnistKind::Mnist)
    msg += "\nRun data/download_mnist.sh, or pass --data-dir / set $MNIST_DIR.";
  else
    msg += "\nInstall the Debian package dataset-fashion-mnist, or pass --data-dir / set "
           "$FASHION_MNIST_DIR.";
  throw std::runtime_error(msg);
}

Dataset load_mnist(const std::string& dir, MnistSplit split, MnistKind kind, std::size_t limit) {
  Dataset ds;
  ds.images_path = find_file(dir, images_base(split));
  ds.labels_path = find_file(dir, labels_base(split));
  const std::string what = std::string(to_string(kind)) + " " + to_string(split);
  if (ds.images_path.empty())
    throw std::runtime_error(join(dir, images_base(split)) + "[.gz]: not found (" + what + " images)");
  if (ds.labels_path.empty())
    throw std::runtime_error(join(dir, labels_base(split)) + "[.gz]: not found (" + what + " labels)");

  IdxImages images = read_idx_images(ds.images_path);
  if (images.rows != kMnistRows || images.cols != kMnistCols)
    throw std::runtime_error(ds.images_path + ": images are " + std::to_string(images.rows) + "x" +
                             std::to_string(images.cols) + ", expected 28x28");
  std::vector<uint8_t> labels = read_idx_labels(ds.labels_path, kMnistClasses);
  if (labels.size() != images.count)
    throw std::runtime_error("image and label counts differ: " + ds.images_path + " holds " +
                             std::to_string(images.count) + " images but " + ds.labels_path +
                             " holds " + std::to_string(labels.size()) + " labels");
  if (images.count == 0) throw std::runtime_error(ds.images_path + ": holds no images");

  ds.count = ds.file_count = images.count;
  if (limit > 0 && limit < ds.count) ds.count = limit;
  ds.labels.assign(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(ds.count));
  ds.images.resize(ds.count * kMnistPixels);
  for (std::size_t i = 0; i < ds.images.size(); ++i)
    ds.images[i] = static_cast<float>(images.pixels[i]) / 255.0f;
  return ds;
}

std::string check_split(const Dataset& train, const Dataset& test) {
  constexpr std::size_t kStandardTrain = 60000, kStandardTest = 10000;
  // Equal counts and equal first images: the same images. (With --limit-train, the loaded part
  // of the training file is compared.)
  const std::size_t shared = std::min(train.count, test.count);
  if (train.file_count == test.file_count && shared > 0 &&
      std::equal(train.images.begin(), train.images.begin() + static_cast<std::ptrdiff_t>(shared * kMnistPixels),
                 test.images.begin()) &&
      std::equal(train.labels.begin(), train.labels.begin() + static_cast<std::ptrdiff_t>(shared), test.labels.begin()))
    throw std::runtime_error("the training images " + train.images_path + " are the test images " + test.images_path +
                             " (" + std::to_string(test.file_count) +
                             " images, the same pixels and labels): training on the test set measures nothing; "
                             "restore the training files");
  if (train.file_count == kStandardTrain && test.file_count == kStandardTest) return "";
  return "the training file holds " + std::to_string(train.file_count) + " images and the test file " +
         std::to_string(test.file_count) + " (the standard split is 60000 and 10000): " + train.images_path +
         ", " + test.images_path;
}

}  // namespace ip
