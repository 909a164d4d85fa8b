#!/usr/bin/env bash
# Browser test of the admin status page: headless Chromium loads the page
# from a real admin listener fed by real gateway traffic, checks what a
# person would see, and keeps a screenshot.
#
#   test/browser/run.sh                 # screenshot in test/artifacts/
#   SAFEHUB_ARTIFACTS=/tmp/out test/browser/run.sh
#
# Installs nothing. Needs: go, and Debian's chromium (apt-get install -y chromium),
# or SAFEHUB_CHROMIUM pointing at a Chromium binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -z "${SAFEHUB_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
	echo "test/browser/run.sh: chromium is not installed; install it with: apt-get install -y chromium" >&2
	echo "  (or set SAFEHUB_CHROMIUM to a Chromium binary)" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "test/browser/run.sh: go is not on PATH; install Go 1.26 (see README)" >&2
	exit 1
fi

export SAFEHUB_ARTIFACTS="${SAFEHUB_ARTIFACTS:-$PWD/test/artifacts}"
mkdir -p "$SAFEHUB_ARTIFACTS"
go test -tags browser -count=1 -run 'InHeadlessChromium' -v ./internal/obs/ "$@"
echo "screenshots: $SAFEHUB_ARTIFACTS/status-page*.png"
