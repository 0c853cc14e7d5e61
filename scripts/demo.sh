#!/usr/bin/env bash
# Builds pmr and runs the demo: the daemon supervising a small HTTP app.
# Uses its own PMR_HOME (./target/demo-home) so your ~/.pmr is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p pmr-agent
export PMR_HOME="$PWD/target/demo-home"
PMR="$PWD/target/release/pmr"
PORT="${PORT:-3000}"
"$PMR" delete demo -s 2>/dev/null || true
PORT="$PORT" "$PMR" start examples/demo-app.js --name demo --time
for _ in $(seq 50); do
  if curl -fsS "http://127.0.0.1:$PORT/" 2>/dev/null; then break; fi
  sleep 0.1
done
"$PMR" logs demo --lines 5 --nostream
cat <<MSG

The demo app runs under pmr (PMR_HOME=$PMR_HOME):
  curl http://127.0.0.1:$PORT/
  PMR_HOME=$PMR_HOME $PMR list
  PMR_HOME=$PMR_HOME $PMR logs demo
  PMR_HOME=$PMR_HOME $PMR kill      # stop the app and the daemon
MSG
