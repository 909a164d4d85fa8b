#!/usr/bin/env bash
# Guard test runner.
#   test/guard/run.sh                 Debian python3-torch 1.13 via a copy of /usr/bin/python3
#                                     and venvs made from it (needs: go, python3-torch,
#                                     python3-numpy, python3-joblib, python3-pytest, python3-venv)
#   test/guard/run.sh --latest-torch  newest torch from PyPI in .venv-torch-latest (large
#                                     download: torch + CUDA libraries; timed and reported)
# Extra arguments go to pytest (e.g. -k startup -x).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
latest=0
if [[ "${1:-}" == "--latest-torch" ]]; then latest=1; shift; fi

src_py=/usr/bin/python3
for mod in torch numpy joblib pytest venv; do
  if ! "$src_py" -c "import $mod" 2>/dev/null; then
    echo "run.sh: $src_py cannot import $mod; install the Debian package (apt-get install python3-torch python3-numpy python3-joblib python3-pytest python3-venv)" >&2
    exit 2
  fi
done

bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
(cd "$repo" && go build -o "$bin_dir/safehub" ./cmd/safehub)
export SAFEHUB_BIN="$bin_dir/safehub"
export GUARD_SOURCE_PYTHON="$src_py"

if [[ $latest == 1 ]]; then
  venv="$repo/.venv-torch-latest"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import torch, numpy, joblib" 2>/dev/null; then
    rm -rf "$venv"
    "$src_py" -m venv "$venv"
    start=$(date +%s)
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet torch numpy joblib
    echo "run.sh: installing torch from PyPI took $(( $(date +%s) - start )) s ($(du -sh "$venv" | cut -f1))"
  fi
  export GUARD_TORCH_SITE=$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')
  echo "run.sh: newest torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') from $GUARD_TORCH_SITE"
fi

cd "$here"
exec "$src_py" -m pytest -p no:cacheprovider -q "$@"
