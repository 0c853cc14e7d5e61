#!/usr/bin/env bash
# The main job in one command: builds pmr and pmr-hub, starts a hub (TLS,
# self-signed certificate pinned by the agent), a pmr daemon supervising a
# small HTTP app, links the two, and prints where to look.
# Everything lives under ./target/demo (your ~/.pmr is untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p pmr-agent -p pmr-hub
ROOT="$PWD/target/demo"
PMR="$PWD/target/release/pmr"
HUB="$PWD/target/release/pmr-hub"
APP_PORT="${PORT:-3000}"
HUB_PORT="${HUB_PORT:-9615}"
export PMR_HOME="$ROOT/agent"
mkdir -p "$ROOT"

# A fresh demo each time: stop what an earlier run left.
"$PMR" kill >/dev/null 2>&1 || true
if [ -f "$ROOT/hub.pid" ]; then kill "$(cat "$ROOT/hub.pid")" 2>/dev/null || true; sleep 0.5; fi
rm -rf "$ROOT/hub-data"

keys=$("$HUB" --data-dir "$ROOT/hub-data" keys create --bucket demo)
SECRET=$(awk '/^secret key:/ {print $3}' <<<"$keys")
PUBLIC=$(awk '/^public key:/ {print $3}' <<<"$keys")
OWNER="owner@demo.local"
PASSWORD=$("$HUB" --data-dir "$ROOT/hub-data" users add "$OWNER" --role owner | awk '/^password for/ {print $4}')
TOKEN=$("$HUB" --data-dir "$ROOT/hub-data" tokens create --name demo --user "$OWNER" --role viewer)

nohup "$HUB" --data-dir "$ROOT/hub-data" serve --listen "127.0.0.1:$HUB_PORT" --self-signed \
  >"$ROOT/hub.out" 2>"$ROOT/hub.log" &
echo $! >"$ROOT/hub.pid"
for _ in $(seq 100); do grep -q "listening" "$ROOT/hub.out" 2>/dev/null && break; sleep 0.1; done
FP=$(awk -F': ' '/fingerprint/ {print $2}' "$ROOT/hub.out")

"$PMR" start examples/demo-app.js --name demo --time -i 2 --port "$APP_PORT" -s
# The secret goes in on standard input, off the command line.
"$PMR" link - "$PUBLIC" demo-machine --hub "wss://127.0.0.1:$HUB_PORT" --fingerprint "$FP" >/dev/null <<<"$SECRET"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$APP_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do "$PMR" link status | grep -q "status:   connected" && break; sleep 0.1; done

"$PMR" list
"$PMR" link status
cat <<MSG

The dashboard: https://127.0.0.1:$HUB_PORT/
  sign in as $OWNER with password $PASSWORD
  (made for this demo and shown once; the certificate is self-signed, so the
  browser asks you to accept it: its SHA-256 fingerprint is $FP)
It shows this machine as "demo-machine" with its app "demo". The same data for scripts:
  curl -sk -H "Authorization: Bearer $TOKEN" https://127.0.0.1:$HUB_PORT/api/v1/processes
  curl -sk https://127.0.0.1:$HUB_PORT/metrics | grep pmr_process
  curl -sk https://127.0.0.1:$HUB_PORT/api/v1/openapi.json   # the whole API, described
The demo app answers on http://127.0.0.1:$APP_PORT/ ; try:
  PMR_HOME=$PMR_HOME $PMR logs demo
  PMR_HOME=$PMR_HOME $PMR reload demo     # zero-downtime: 2 instances share port $APP_PORT
  PMR_HOME=$PMR_HOME $PMR monit
Stop everything:
  PMR_HOME=$PMR_HOME $PMR kill; kill \$(cat $ROOT/hub.pid)
MSG
