#!/usr/bin/env bash
# Generate the scanner corpus into test/corpus/out (gitignored) and check
# every file's verdict with the tagged Go test.
#
# Needs Debian's /usr/bin/python3 with torch, numpy, joblib and h5py:
#   apt-get install python3-torch python3-numpy python3-joblib python3-h5py
# Extra arguments go to `go test` (e.g. -run 'TestCorpusVerdicts/pickle/').
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy, joblib, h5py' 2>/dev/null; then
	echo "test/corpus/run.sh: $PY cannot import torch/numpy/joblib/h5py;" \
		"run: apt-get install python3-torch python3-numpy python3-joblib python3-h5py" >&2
	exit 1
fi

OUT=test/corpus/out
"$PY" test/corpus/gen.py "$OUT"
# Benign files must open with their real loaders; prints what torch's own zip
# reader makes of each malicious archive.
"$PY" test/corpus/verify.py "$OUT" >"$OUT/verify.log" || { cat "$OUT/verify.log"; exit 1; }
SAFEHUB_CORPUS="$PWD/$OUT" go test -tags corpus -count=1 ./test/corpus/ "$@"
