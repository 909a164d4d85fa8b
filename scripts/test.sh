#!/usr/bin/env bash
# The project's test command (README): installs what it needs, then runs
# every suite. Each suite fails loudly, never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

echo "== go vet"
go vet ./...
echo "== go unit tests"
go test ./...
echo "== go race detector (gateway, upstream, cache, store, audit)"
go test -race ./internal/gateway/ ./internal/upstream/ ./internal/cache/ ./internal/store/... ./internal/audit/
echo "== scanner corpus (real torch/numpy files)"
test/corpus/run.sh
echo "== guard (Debian torch 1.13)"
test/guard/run.sh
echo "== status page in headless Chromium"
test/browser/run.sh
echo "== integration (huggingface_hub through safehub serve)"
test/integration/run.sh
