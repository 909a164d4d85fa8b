#!/usr/bin/env bash
# Integration suite: the real huggingface_hub client (in .venv) against the real safehub
# binary in front of the Hub simulator. Needs Go, and the venv made by scripts/deps.sh
# (python3 -m venv .venv && .venv/bin/pip install -r test/requirements.txt).
# Extra arguments go to pytest, e.g. test/integration/run.sh -k gated -x
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

py="$root/.venv/bin/python"
if [[ ! -x "$py" ]]; then
  echo "test/integration/run.sh: $py is missing: run scripts/deps.sh first" >&2
  exit 2
fi
if ! "$py" -c 'import huggingface_hub, hf_xet, pytest, numpy, safetensors' 2>/dev/null; then
  echo "test/integration/run.sh: .venv lacks test/requirements.txt packages: run scripts/deps.sh" >&2
  exit 2
fi

bin_dir="$(mktemp -d "${TMPDIR:-/tmp}/safehub-it-bin.XXXXXX")"
trap 'rm -rf "$bin_dir"' EXIT
echo "building safehub and hubsim into $bin_dir"
go build -o "$bin_dir/safehub" ./cmd/safehub
go build -o "$bin_dir/hubsim" ./test/hubsim/cmd/hubsim

export SAFEHUB_BIN="$bin_dir/safehub" HUBSIM_BIN="$bin_dir/hubsim"
"$py" -m pytest test/integration -q -p no:cacheprovider "$@"
