#!/usr/bin/env python3
"""Reload of 4 instances of a Node HTTP server under load: pmr against pm2
cluster mode (when found). Run by hand, not by CI:

    cargo build --release -p pmr-agent
    npm i --prefix /tmp/pm2pkg pm2        # optional, for the pm2 column
    python3 tests/bench/reload.py [--seconds 12] [--clients 8]

Clients open a new connection per request (no keep-alive, so every request
meets the listening socket). Per manager: requests/s in the 3 s before the
reload, during it, and in the 3 s after; failed requests; the reload's
duration as the CLI reports it.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = (
    "const http = require('http');\n"
    "http.createServer((req, res) => res.end(String(process.pid)))"
    ".listen(process.env.PORT, () => process.send && process.send('ready'));\n"
)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
    s.close()
    if b" 200 " not in data.split(b"\r\n", 1)[0]:
        raise RuntimeError(data[:60])
    return data.rsplit(b"\r\n\r\n", 1)[-1]


def load(port, clients, stop, log):
    def worker():
        while not stop.is_set():
            t = time.time()
            try:
                get(port)
                log.append((t, True))
            except Exception:
                log.append((t, False))
    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    return ts


def bench(name, binary, home_var, port, args, workdir):
    home = tempfile.mkdtemp(prefix=f"reload-{name}-", dir="/tmp")
    env = dict(os.environ, **{home_var: home, "PORT": str(port)})
    script = os.path.join(workdir, "server.js")
    run = lambda *a: subprocess.run([binary, *a], env=env, capture_output=True, text=True)
    start = ["start", script, "-i", "4", "--name", "web"]
    if name == "pm2":
        start += ["--wait-ready"]
    else:
        start += ["--port", str(port)]
    r = run(*start)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    deadline = time.time() + 30
    while True:
        try:
            get(port)
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    time.sleep(1)
    log, stop = [], threading.Event()
    threads = load(port, args.clients, stop, log)
    time.sleep(3)
    t0 = time.time()
    r = run("reload", "web")
    t1 = time.time()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    run("kill")
    shutil.rmtree(home, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError(f"{name} reload: {r.stderr}")
    def rate(a, b):
        return sum(1 for t, ok in log if a <= t < b and ok) / max(b - a, 1e-9)
    return {
        "requests/s before": rate(t0 - 3, t0),
        "requests/s during reload": rate(t0, t1),
        "requests/s after": rate(t1, t1 + 3),
        "failed requests": sum(1 for _, ok in log if not ok),
        "requests in all": len(log),
        "reload duration (s)": t1 - t0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pmr", default=os.path.join(ROOT, "target/release/pmr"))
    ap.add_argument("--pm2", default=shutil.which("pm2") or "/tmp/pm2pkg/node_modules/.bin/pm2")
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="reload-work-", dir="/tmp")
    with open(os.path.join(work, "server.js"), "w") as f:
        f.write(SERVER)
    results = {}
    managers = [("pmr", a.pmr, "PMR_HOME")]
    if os.path.exists(a.pm2):
        managers.append(("pm2", a.pm2, "PM2_HOME"))
    for name, binary, var in managers:
        print(f"... {name}", file=sys.stderr)
        results[name] = bench(name, binary, var, free_port(), a, work)
    keys = list(next(iter(results.values())).keys())
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{n:>10}" for n in results))
    for k in keys:
        cells = []
        for n in results:
            v = results[n][k]
            cells.append(f"{v:>10.2f}" if isinstance(v, float) else f"{v:>10}")
        print(f"{k:{width}}  " + "  ".join(cells))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
