#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# then vets, checks formatting and runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

# Debian packages the tests use: curl for the smoke test of the binary,
# openssl for the OCSP responder, pebble as the ACME test CA, redis-server
# for shared state and the cache's Redis store. Tests start their own
# servers on loopback; nothing here is left running.
need=()
for p in curl ca-certificates openssl pebble redis-server; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  else
    echo "missing packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
fi

go mod download
echo "== gofmt"
unformatted=$(gofmt -l cmd internal)
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
# The binary is built for other systems too: the files for systems other
# than Linux (raw sockets, signals, CPU time) must keep compiling. Windows
# has the fewest of Linux's calls, so it stands for the rest.
GOOS=windows go vet ./...
echo "== go test -race"
# The real servers above are installed, so no test may skip for want of one.
export PORTICO_REQUIRE_REAL=1
go test -race -count=1 -timeout 15m ./...
