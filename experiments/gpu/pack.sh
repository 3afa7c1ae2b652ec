#!/usr/bin/env bash
# Packs what a bare GPU machine (one that reaches no package registry, such as a lent H100/H200)
# needs to run experiments/gpu/campaign.sh: the binaries built here for Hopper (sm_90, plus sm_80
# and PTX), the shared libraries they load that such a machine may lack, and the MNIST files.
#   experiments/gpu/pack.sh                          # configure and build in build-gpu, pack into .gpu
#   experiments/gpu/pack.sh --from BUILD [--to DIR]  # pack an existing build, no configure or build
# Then carry ".gpu" with the device call and run `bash experiments/gpu/campaign.sh all` there.
#
# Everything that travels (this checkout's tracked and untracked, not ignored files, plus the pack)
# must stay under 64 MiB: the pack is measured against that and refused when it does not fit.
# Left out on purpose: cuBLAS (libcublasLt alone is over 500 MB; campaign.sh finds the GPU
# machine's own CUDA 13 copy), libstdc++ and libgcc_s (the GPU image's are newer than this Debian
# 12 build's; an older copy first on the library path could break the image's libraries), and
# trained models (32 x 4.3 MB: the campaign trains them on the GPU, see campaign.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${GPU_BUILD_DIR:-build-gpu}
pack=.gpu
from=
while (($#)); do
  case "$1" in
    --from) from=${2:?--from needs a build directory}; shift 2 ;;
    --to) pack=${2:?--to needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pack.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# PACK_LIMIT_BYTES: only the dry-run test of a sanitized build (whose binaries are ten times
# larger and never travel) lifts the limit.
limit=${PACK_LIMIT_BYTES:-$((64 * 1024 * 1024))}

if [[ -z $from ]]; then
  command -v nvcc >/dev/null || { echo "pack.sh: nvcc not found; the CUDA backend cannot be built" >&2; exit 1; }
  bash tests/install-deps.sh
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="80-real;90-real;90-virtual" >/dev/null
  cmake --build "$build" -j "$(nproc)"
else
  build=$from
fi

# Every binary campaign.sh runs. A full pack needs all of them; packing an existing build (the
# dry-run test, or a build without nvcc) takes what is there and says what is missing.
binaries=(ip_cuda_tests ip_tests check_kernels kernel_bench rand_power mnist_power power_table)
rm -rf "$pack" && mkdir -p "$pack/bin" "$pack/lib" "$pack/mnist"
packed=()
# Stripped (the campaign needs no symbol tables: ~10% of each binary) and gzipped (a third of the
# size: the seven binaries with their GPU code take most of the 64 MiB that travels, the rest being
# the checkout, whose results grow); campaign.sh unpacks them into its scratch folder.
for b in "${binaries[@]}"; do
  if [[ -x $build/$b ]]; then
    { strip -o "$pack/bin/$b" "$build/$b" 2>/dev/null || cp "$build/$b" "$pack/bin/"; } && packed+=("$pack/bin/$b")
  elif [[ -z $from ]]; then
    echo "pack.sh: $build/$b was not built" >&2; exit 1
  else
    echo "pack.sh: $build/$b not built: not packed (campaign.sh skips its steps)" >&2
  fi
done
# The libraries a CUDA image may lack (Highway, OpenMP, zlib, the CUDA runtime: small, and the
# version these binaries were built against). Not the C library, the driver or the ones named above.
if ((${#packed[@]})); then
  for b in "${packed[@]}"; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcublas|libcublasLt|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$pack/lib/"; done
  gzip -n -- "${packed[@]}"
fi
for dir in "${MNIST_DIR:-}" ../shared/data/mnist data/mnist; do
  if [[ -n "$dir" && -f "$dir/t10k-labels-idx1-ubyte.gz" ]]; then cp "$dir"/*-ubyte.gz "$pack/mnist/"; break; fi
done
[[ -f "$pack/mnist/t10k-labels-idx1-ubyte.gz" ]] || echo "pack.sh: no MNIST files found; the campaign skips its mnist step" >&2

# What travels: the pack plus this checkout's files that git does not ignore (a pack outside the
# checkout is counted too, as if carried).
tree_bytes() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null || true
  else  # not a git checkout: every file but build folders
    find . \( -path './build*' -o -path ./.git \) -prune -o -type f -printf '%s\n'
  fi | awk '{s += $1} END {print s + 0}'
}
tree=$(tree_bytes)
packed_bytes=$(du -sb "$pack" | cut -f1)
case "$(realpath "$pack")/" in "$(realpath .)"/*) ignored=$(git check-ignore -q "$pack/bin" && echo yes || echo no) ;; *) ignored=yes ;; esac
[[ $ignored == yes ]] || tree=$((tree - packed_bytes))  # an unignored pack is already in the tree's sum
total=$((tree + packed_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "pack.sh: $pack holds $(mib "$packed_bytes") (bin $(du -sh "$pack/bin" | cut -f1), lib $(du -sh "$pack/lib" | cut -f1), mnist $(du -sh "$pack/mnist" | cut -f1)); with the checkout's $(mib "$tree") that travels, $(mib "$total") of the 64 MiB"
if ((total > limit)); then
  echo "pack.sh: too big to travel: $(mib "$total") > 64 MiB; leave out data or untracked files, or pack less" >&2
  exit 1
fi
echo "pack.sh: ready. On the GPU machine, with \"$pack\" carried: bash experiments/gpu/campaign.sh all"
