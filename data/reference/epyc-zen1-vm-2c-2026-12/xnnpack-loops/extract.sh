#!/bin/bash
# Usage: XNNPACK_GIT_DIR=<git dir of google/XNNPACK> bash extract.sh <kernel .c paths in the repo>
# extract a file from XNNPACK git dir plus recursively its quoted includes
G="git --git-dir=${XNNPACK_GIT_DIR:?the XNNPACK git directory}"
ROOT=${XNN_WORK:-.}/src
declare -A seen
get() {
  local f=$1
  [[ -n "${seen[$f]}" ]] && return
  seen[$f]=1
  mkdir -p $ROOT/$(dirname $f)
  $G show HEAD:$f > $ROOT/$f 2>/dev/null || { echo "MISSING $f" >&2; rm -f $ROOT/$f; return; }
  for inc in $(grep -E '^\s*#\s*include\s*"' $ROOT/$f | sed -E 's/.*"([^"]+)".*/\1/'); do
    local cand=""
    for p in "$inc" "include/$inc" "src/$inc" "$(dirname $f)/$inc"; do
      if $G cat-file -e HEAD:$p 2>/dev/null; then cand=$p; break; fi
    done
    if [[ -n $cand ]]; then get $cand; else echo "UNRESOLVED $inc (from $f)" >&2; fi
  done
}
for f in "$@"; do get $f; done
