// MNIST and Fashion-MNIST as the experiments use them: 28×28 images as float32 in [0, 1]
// (pixel / 255, as torchvision's ToTensor), labels 0…9.
//
// Where the files are looked for, in order (the first place that holds both files of the split
// wins; an explicit directory is the only place looked at, so a typo is not papered over by a
// copy elsewhere):
//   1. the directory given on the command line (--data-dir), if any;
//   2. $MNIST_DIR (MNIST) or $FASHION_MNIST_DIR (Fashion-MNIST), if set and not empty;
//   3. data/mnist/ (MNIST) or data/fashion-mnist/ and /usr/share/datasets/fashion-mnist/ (the
//      Debian package dataset-fashion-mnist) for Fashion-MNIST, relative to the working directory.
// File names are the originals (train-images-idx3-ubyte, t10k-labels-idx1-ubyte, …), with or
// without .gz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ip {

enum class MnistSplit { Train, Test };
enum class MnistKind { Mnist, Fashion };

constexpr int kMnistRows = 28, kMnistCols = 28, kMnistPixels = kMnistRows * kMnistCols;
constexpr int kMnistClasses = 10;

struct Dataset {
  std::size_t count = 0;        // images loaded (at most the limit asked for)
  std::size_t file_count = 0;   // images the file holds
  std::vector<float> images;    // count × 784, row-major, in [0, 1]
  std::vector<uint8_t> labels;  // count, each < 10
  std::string images_path, labels_path;  // the files it came from
};

// "train"/"test" and "mnist"/"fashion" (also "fashion-mnist"); throws std::invalid_argument.
MnistSplit parse_mnist_split(const std::string& s);
MnistKind parse_mnist_kind(const std::string& s);
const char* to_string(MnistSplit split);
const char* to_string(MnistKind kind);

// The places searched, in order, for this data set (see the top of this file).
std::vector<std::string> mnist_search_dirs(const std::string& cli_dir, MnistKind kind);

// The first directory of mnist_search_dirs that holds both files of the split; throws
// std::runtime_error listing every place searched when none does.
std::string resolve_mnist_dir(const std::string& cli_dir, MnistKind kind, MnistSplit split);

// Loads one split from `dir` (no search). limit > 0 keeps only the first `limit` examples.
// Throws std::runtime_error naming the file for any malformed input, and naming both files when
// their counts differ.
Dataset load_mnist(const std::string& dir, MnistSplit split, MnistKind kind = MnistKind::Mnist,
                   std::size_t limit = 0);

// The standard splits hold 60,000 training and 10,000 test images. Throws std::runtime_error
// naming both files when the training images are the test images (a copy over the training
// files: the run would train on the test set); returns a warning when the counts are not the
// standard ones, "" otherwise.
std::string check_split(const Dataset& train, const Dataset& test);

}  // namespace ip
