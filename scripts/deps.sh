#!/usr/bin/env bash
# Installs everything the test suites need on a fresh Debian machine, and
# nothing by hand: Debian's torch 1.13 stack for /usr/bin/python3 (the
# guard and the scanner corpus), Chromium (the status page's browser test),
# systemd-analyze (checks the unit that setup writes), and a virtualenv
# (.venv) with the newest huggingface_hub and hf_xet from PyPI (the
# integration suite).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(python3-torch python3-numpy python3-pytest python3-venv python3-joblib python3-h5py chromium systemd)
missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "deps: apt-get install ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

py=${SAFEHUB_TEST_PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum test/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "deps: creating .venv with $py and test/requirements.txt"
	"$py" -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check -r test/requirements.txt
	echo "$want" >"$stamp"
fi
