#!/usr/bin/env bash
# Scanner benchmark (not a test): safehub scan vs picklescan and modelscan on
# the corpus from test/corpus/gen.py, plus throughput on opcode-dense pickles
# and the share of bytes read on a sparse 5 GB torch zip.
#
#   bench/scan/bench.sh            results in bench/out/scan-results.md
#
# Needs: Go, network access to PyPI (first run only), and Debian's
# /usr/bin/python3 with torch/numpy/joblib/h5py for the corpus
# (apt-get install python3-torch python3-numpy python3-joblib python3-h5py).
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=bench/out
CORPUS=test/corpus/out
mkdir -p "$OUT"

# modelscan 0.8.8 breaks on numpy 2 (numpy.lib.format._check_version) and
# needs h5py for .h5; its Keras scanner would need tensorflow (~600 MB),
# which the bench leaves out: modelscan reports .keras files as errors.
VENV_STAMP="$OUT/venv/.safehub-bench-v2"
if [ ! -f "$VENV_STAMP" ]; then
	echo "bench: creating $OUT/venv with picklescan and modelscan from PyPI"
	python3 -m venv "$OUT/venv"
	"$OUT/venv/bin/pip" install -q picklescan==1.0.5 'modelscan[h5py]==0.8.8' 'numpy<2'
	touch "$VENV_STAMP"
fi

if [ ! -f "$CORPUS/manifest.json" ]; then
	if ! /usr/bin/python3 -c 'import torch, numpy, joblib, h5py' 2>/dev/null; then
		echo "bench: /usr/bin/python3 lacks torch/numpy/joblib/h5py;" \
			"run: apt-get install python3-torch python3-numpy python3-joblib python3-h5py" >&2
		exit 1
	fi
	/usr/bin/python3 test/corpus/gen.py "$CORPUS"
fi

BIG="$OUT/big-5gib.pt"
if [ ! -f "$BIG" ]; then
	echo "bench: writing sparse 5 GiB torch zip $BIG (computes the CRC of the zeros)"
	/usr/bin/python3 test/corpus/gen.py --big-zip "$BIG" 5
fi

go build -o "$OUT/safehub" ./cmd/safehub
go build -o "$OUT/scanjson" ./bench/scan/scanjson

"$OUT/venv/bin/python" bench/scan/compare.py --corpus "$CORPUS" --scanjson "$OUT/scanjson" \
	--safehub "$OUT/safehub" --big "$BIG" --out "$OUT/scan-results.md"
