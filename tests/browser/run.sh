#!/usr/bin/env bash
# The browser suite: real wrangler dev + Debian Chromium, inside a network
# namespace that has only the loopback interface (nothing leaves the machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Arguments name test files to run instead of the whole suite.
exec unshare --net bash -c 'ip link set lo up; node --test --test-concurrency=1 --test-reporter=spec "${@:-tests/browser/}"' run "$@"
