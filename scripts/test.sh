#!/usr/bin/env bash
# The whole suite. Installs the system tools the end-to-end tests drive
# (Debian packages) when they are missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v tmux >/dev/null || need+=(tmux)
if ((${#need[@]})); then
  echo "installing ${need[*]} from Debian's packages for the tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
exec cargo test --workspace "$@"
