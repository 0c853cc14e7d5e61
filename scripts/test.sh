#!/usr/bin/env bash
# The whole suite. Installs the system tools the end-to-end tests drive
# (Debian packages: tmux, chromium, postgresql) when they are missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v tmux >/dev/null || need+=(tmux)
# The API contract test installs schemathesis into a virtual environment.
python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
# The store's tests start PostgreSQL clusters of their own (initdb, pg_ctl).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
# The dashboard's tests drive a real headless Chromium.
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium fonts-liberation)
if ((${#need[@]})); then
  echo "installing ${need[*]} from Debian's packages for the tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo test --workspace "$@"
# The hub's end-to-end suite once more with every hub on PostgreSQL (a
# cluster of each test's own): both stores serve the same behaviour.
PMR_TEST_HUB_DATABASE=postgres cargo test -p pmr-tests --test e2e "$@"
