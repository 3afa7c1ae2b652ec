#!/usr/bin/env bash
# Downloads the four MNIST files and verifies each against its SHA-256 before keeping it.
#
#   data/download_mnist.sh [DEST]      DEST defaults to data/mnist/ (next to this script)
#
# Mirrors, tried in order (override with MNIST_MIRRORS="url1 url2"): the copy PyTorch's
# torchvision downloads from, then the one TensorFlow's tutorials use. Both serve the original
# gzip files of Yann LeCun's page (which now often refuses automated downloads); the checksums
# below are those of the originals, so a mirror serving anything else is rejected.
#
# Never run by the build or the tests: it is the one step that needs the network.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$script_dir/mnist}"
mirrors=(${MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist})

# SHA-256 of the original files (the same as in the project's shared copy's SOURCE.txt).
declare -A sha256=(
  [train-images-idx3-ubyte.gz]=440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
  [train-labels-idx1-ubyte.gz]=3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
  [t10k-images-idx3-ubyte.gz]=8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
  [t10k-labels-idx1-ubyte.gz]=f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
)
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

if command -v curl >/dev/null; then
  fetch() { curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"; }
elif command -v wget >/dev/null; then
  fetch() { wget -q --tries=3 --timeout=20 -O "$2" "$1"; }
else
  echo "download_mnist: neither curl nor wget is installed" >&2
  exit 1
fi

verified() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

mkdir -p "$dest"
failed=0
for f in "${files[@]}"; do
  target="$dest/$f"
  if verified "$target" "${sha256[$f]}"; then
    echo "download_mnist: $f already present and verified"
    continue
  fi
  # Download beside the target and move into place only once verified: no half files under the
  # real name, and a wrong file never replaces a good one.
  tmp="$target.part"
  ok=0
  for m in "${mirrors[@]}"; do
    if ! fetch "$m/$f" "$tmp"; then
      echo "download_mnist: could not fetch $m/$f" >&2
      continue
    fi
    if verified "$tmp" "${sha256[$f]}"; then
      mv -f "$tmp" "$target"
      echo "download_mnist: $f from $m, SHA-256 verified"
      ok=1
      break
    fi
    echo "download_mnist: $m/$f has the wrong SHA-256 ($(sha256sum "$tmp" | cut -d' ' -f1)); not used" >&2
  done
  rm -f "$tmp"
  if [[ $ok -eq 0 ]]; then failed=1; fi
done

if [[ $failed -ne 0 ]]; then
  echo "download_mnist: some files could not be downloaded and verified (offline, or the mirrors" >&2
  echo "changed). Copy the four .gz files into $dest by hand, or point --data-dir / \$MNIST_DIR" >&2
  echo "at a directory that holds them." >&2
  exit 1
fi
echo "download_mnist: MNIST is in $dest"
