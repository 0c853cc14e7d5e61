#!/usr/bin/env python3
"""Benchmarks pmr side by side with pm2 (when found) on this machine.

Run by hand, not by CI:

    cargo build --release -p pmr-agent
    npm i --prefix /tmp/pm2pkg pm2        # optional, for the pm2 column
    python3 tests/bench/bench.py [--pm2 /tmp/pm2pkg/node_modules/.bin/pm2] [--quick]

Each manager gets a fresh home directory under /tmp. Figures:
  daemon RSS idle and with 100 idle node apps, daemon CPU over 60 s with
  them (all threads, from /proc/<pid>/task/*/schedstat), `list` latency at
  0 and 100 apps, `restart` latency, `kill -9` to new pid (pid file
  watched in a tight loop), log throughput of one and of four apps writing
  1M lines of 100 bytes against the same apps writing straight to files,
  and torn lines when four instances share one file.

With --ecosystem (issue 5's figures): 100 shell apps and 100 node apps
started from one ecosystem file until all are online, and the daemon's CPU
while an app writes 100 MB/s, with rotation at 10 MiB against none.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDLE_JS = "setInterval(() => {}, 1 << 30);\n"
LINE_LEN = 100


def writer_py(lines):
    # 99 characters and a newline; the instance and sequence number lead.
    return (
        "import os, sys\n"
        "i = os.environ.get('NODE_APP_INSTANCE', '0')\n"
        "w = sys.stdout.write\n"
        f"for n in range({lines}):\n"
        "    w('%s %08d %s\\n' % (i, n, 'x' * 88))\n"
        "sys.stdout.flush()\n"
        "import time\n"
        "time.sleep(100000)\n"
    )


class Manager:
    def __init__(self, name, binary, home_var, pid_file, logs_dir):
        self.name = name
        self.binary = binary
        self.home = tempfile.mkdtemp(prefix=f"bench-{name}-", dir="/tmp")
        self.env = dict(os.environ, **{home_var: self.home})
        self.pid_file = os.path.join(self.home, pid_file)
        self.logs = os.path.join(self.home, logs_dir)

    def run(self, *args, check=True):
        r = subprocess.run([self.binary, *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {r.stderr.decode()}")
        return r

    def timed(self, *args):
        t = time.perf_counter()
        self.run(*args)
        return (time.perf_counter() - t) * 1000

    def daemon_pid(self):
        with open(self.pid_file) as f:
            return int(f.read().strip())

    def jlist(self):
        import json
        out = subprocess.run([self.binary, "jlist"], env=self.env, capture_output=True, check=True).stdout
        # pm2 may print warnings before the JSON.
        text = out.decode()
        return json.loads(text[text.index("["):])

    def wait_online(self, count, limit=120):
        end = time.time() + limit
        while time.time() < end:
            procs = self.jlist()
            if sum(1 for p in procs if p["pm2_env"]["status"] == "online") >= count:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: {count} apps not online")

    def kill(self):
        self.run("kill", check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def median(xs):
    return statistics.median(xs)


def kill9_latency(m, name, rounds):
    """ms from SIGKILL of the app to its new pid being written."""
    procs = [p for p in m.jlist() if p["name"] == name]
    pid_path = procs[0]["pm2_env"]["pm_pid_path"]
    if not pid_path.endswith(".pid"):
        pid_path = f"{pid_path}{procs[0]['pm_id']}.pid"
    samples = []
    for _ in range(rounds):
        m.wait_online(len(m.jlist()))
        with open(pid_path) as f:
            old = f.read().strip()
        t = time.perf_counter()
        os.kill(int(old), signal.SIGKILL)
        while True:
            try:
                with open(pid_path) as f:
                    now = f.read().strip()
            except OSError:
                now = ""
            if now and now != old:
                break
            if time.perf_counter() - t > 10:
                raise RuntimeError("no new pid")
        samples.append((time.perf_counter() - t) * 1000)
        time.sleep(1.2)  # stay clear of min_uptime, so no backoff kicks in
    return median(samples)


def bare_respawn(rounds):
    samples = []
    for _ in range(rounds):
        p = subprocess.Popen(["sleep", "1000"])
        t = time.perf_counter()
        p.kill()
        p.wait()
        q = subprocess.Popen(["sleep", "1000"])
        samples.append((time.perf_counter() - t) * 1000)
        q.kill()
        q.wait()
    return median(samples)


def direct_throughput(script, n_apps, lines, workdir):
    outs = [os.path.join(workdir, f"direct-{i}.log") for i in range(n_apps)]
    t = time.perf_counter()
    procs = []
    for i, out in enumerate(outs):
        f = open(out, "w")
        procs.append(subprocess.Popen([sys.executable, script], stdout=f, env=dict(os.environ, NODE_APP_INSTANCE=str(i))))
    want = lines * LINE_LEN
    while not all(os.path.exists(o) and os.path.getsize(o) >= want for o in outs):
        time.sleep(0.005)
    took = time.perf_counter() - t
    for p in procs:
        p.kill()
        p.wait()
    return n_apps * lines / took


def managed_throughput(m, script, n_apps, lines, merged):
    name = f"flood{n_apps}{'m' if merged else ''}"
    args = ["start", script, "--name", name, "-f"]
    if n_apps > 1:
        args += ["-i", str(n_apps)]
    if merged:
        args += ["--merge-logs"]
    if m.name == "pm2":
        args += ["--interpreter", "python3"]
    t = time.perf_counter()
    m.run(*args)
    want = n_apps * lines * LINE_LEN
    end = time.time() + 600
    def total():
        s = 0
        for f in os.listdir(m.logs):
            if f.startswith(name + "-out"):
                s += os.path.getsize(os.path.join(m.logs, f))
        return s
    while total() < want and time.time() < end:
        time.sleep(0.005)
    took = time.perf_counter() - t
    torn = None
    if merged:
        torn = 0
        with open(os.path.join(m.logs, f"{name}-out.log"), "rb") as f:
            for line in f:
                if len(line) != LINE_LEN or not line.endswith(b"x" * 88 + b"\n"):
                    torn += 1
    m.run("delete", name)
    for f in os.listdir(m.logs):
        if f.startswith(name + "-"):
            os.remove(os.path.join(m.logs, f))
    return n_apps * lines / took, torn


def bench(m, args, idle_js, writer, workdir):
    r = {}
    if args.ecosystem:
        return bench_ecosystem(m, args, workdir)
    if args.logs_only:
        return bench_logs(m, args, writer, workdir, r)
    m.run("ping")
    time.sleep(0.5)
    pid = m.daemon_pid()
    r["daemon RSS, 0 apps (MiB)"] = rss_kib(pid) / 1024
    r["list, 0 apps (ms, median of 20)"] = median([m.timed("ls") for _ in range(20)])
    n = 100
    t = time.perf_counter()
    for i in range(n):
        m.run("start", idle_js, "--name", f"idle{i}", "-f")
    m.wait_online(n)
    r["start 100 apps one by one, until online (s)"] = time.perf_counter() - t
    time.sleep(5)
    r["daemon RSS, 100 idle node apps (MiB)"] = rss_kib(pid) / 1024
    secs = args.cpu_seconds
    c0 = cpu_ns(pid)
    time.sleep(secs)
    c1 = cpu_ns(pid)
    r[f"daemon CPU, 100 idle apps, {secs} s (% of a core)"] = (c1 - c0) / (secs * 1e9) * 100
    r["list, 100 apps (ms, median of 20)"] = median([m.timed("ls") for _ in range(20)])
    r["restart one app (ms, median of 10)"] = median([m.timed("restart", "idle0") for _ in range(10)])
    m.run("delete", "all")
    m.run("start", "sleep", "--name", "k9", "--interpreter", "none", "--", "100000") if m.name == "pm2" else m.run("start", "--name", "k9", "--", "sleep", "100000")
    r["kill -9 to new pid (ms, median)"] = kill9_latency(m, "k9", args.rounds)
    m.run("delete", "all")
    return bench_logs(m, args, writer, workdir, r)


def ecosystem_file(workdir, script, n, prefix):
    path = os.path.join(workdir, f"{prefix}.config.js")
    apps = ",\n".join(f"  {{ name: '{prefix}{i}', script: '{script}' }}" for i in range(n))
    with open(path, "w") as f:
        f.write(f"module.exports = {{ apps: [\n{apps}\n] }};\n")
    return path


def until_online(m, path, n):
    t = time.perf_counter()
    m.run("start", path)
    while True:
        procs = m.jlist()
        if sum(1 for p in procs if p["pm2_env"]["status"] == "online") >= n:
            return time.perf_counter() - t
        if time.perf_counter() - t > 120:
            raise RuntimeError(f"{m.name}: {n} apps not online")
        time.sleep(0.01)


RATE_WRITER = (
    "import sys, time\n"
    "block = (('%s\\n' % ('r' * 99)) * 10486).encode()\n"  # ~1 MiB of 100-byte lines
    "out = sys.stdout.buffer\n"
    "start = time.time()\n"
    "for n in range(int(sys.argv[1])):\n"
    "    out.write(block); out.flush()\n"
    "    ahead = start + (n + 1) / 100 - time.time()\n"  # 100 blocks a second
    "    if ahead > 0: time.sleep(ahead)\n"
    "time.sleep(100000)\n"
)


def rotation_cost(m, workdir, seconds, max_size):
    """Daemon CPU (% of a core) while one app writes ~100 MB/s for `seconds`."""
    script = os.path.join(workdir, "rate.py")
    with open(script, "w") as f:
        f.write(RATE_WRITER)
    if m.name == "pmr":
        m.run("set", "pmr:logrotate.max_size", max_size)
        # Keep every rotated file, so the bytes written can be counted.
        m.run("set", "pmr:logrotate.retain", "1000")
    pid = m.daemon_pid()
    want = seconds * 100 * 10486 * 100
    c0, t0 = cpu_ns(pid), time.perf_counter()
    m.run("start", script, "--name", "rate", "-f", "--interpreter", "python3", "--", str(seconds * 100))
    def written():
        return sum(os.path.getsize(os.path.join(m.logs, f)) for f in os.listdir(m.logs) if f.startswith("rate-out"))
    while written() < want and time.perf_counter() - t0 < seconds * 10:
        time.sleep(0.05)
    c1, t1 = cpu_ns(pid), time.perf_counter()
    rotated = sum(1 for f in os.listdir(m.logs) if f.startswith("rate-out__"))
    m.run("delete", "rate")
    for f in os.listdir(m.logs):
        if f.startswith("rate-"):
            os.remove(os.path.join(m.logs, f))
    return (c1 - c0) / ((t1 - t0) * 1e9) * 100, want / (t1 - t0) / 1e6, rotated


def bench_ecosystem(m, args, workdir):
    r = {}
    m.run("ping")
    sh = os.path.join(workdir, "idle.sh")
    with open(sh, "w") as f:
        f.write("exec sleep 100000\n")
    js = os.path.join(workdir, "idle.js")
    for kind, script in (("shell", sh), ("node", js)):
        runs = []
        for _ in range(args.eco_runs):
            runs.append(until_online(m, ecosystem_file(workdir, script, 100, kind), 100))
            m.run("delete", "all")
        r[f"100 {kind} apps from one ecosystem file, until online (s, median of {args.eco_runs})"] = median(runs)
    if m.name == "pmr":
        secs = args.rate_seconds
        for label, size in (("rotation at 10M", "10M"), ("no rotation", "0")):
            cpu, mbs, rotated = rotation_cost(m, workdir, secs, size)
            r[f"daemon CPU, one app writing {mbs:.0f} MB/s, {label} (% of a core)"] = cpu
            r[f"  files rotated ({label})"] = rotated
    return r


def bench_logs(m, args, writer, workdir, r):
    lines = args.lines
    runs = args.log_runs
    # Short runs on a shared 2-core machine are noisy: median of several.
    one = median([managed_throughput(m, writer, 1, lines, False)[0] for _ in range(runs)])
    four = median([managed_throughput(m, writer, 4, lines, False)[0] for _ in range(runs)])
    _, torn = managed_throughput(m, writer, 4, lines, True)
    d1 = median([direct_throughput(writer, 1, lines, workdir) for _ in range(runs)])
    d4 = median([direct_throughput(writer, 4, lines, workdir) for _ in range(runs)])
    r["log lines/s, 1 app direct to a file"] = d1
    r["log lines/s, 1 app captured"] = one
    r["log capture, 1 app, % of direct-to-file"] = one / d1 * 100
    r["log capture, 4 apps, % of direct-to-file"] = four / d4 * 100
    r[f"torn lines, 4 instances x {lines} into one file"] = torn
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pmr", default=os.path.join(ROOT, "target/release/pmr"))
    ap.add_argument("--pm2", default=shutil.which("pm2") or "/tmp/pm2pkg/node_modules/.bin/pm2")
    ap.add_argument("--quick", action="store_true", help="10 s CPU window, 100k lines")
    ap.add_argument("--only", choices=["pmr", "pm2"])
    ap.add_argument("--logs-only", action="store_true", help="only the log throughput figures")
    ap.add_argument("--ecosystem", action="store_true", help="issue 5: ecosystem start, rotation cost")
    a = ap.parse_args()
    a.eco_runs = 1 if a.quick else 5
    a.rate_seconds = 3 if a.quick else 10
    a.cpu_seconds = 10 if a.quick else 60
    a.lines = 100_000 if a.quick else 1_000_000
    a.rounds = 10 if a.quick else 30
    a.log_runs = 1 if a.quick else 5
    work = tempfile.mkdtemp(prefix="bench-work-", dir="/tmp")
    idle_js = os.path.join(work, "idle.js")
    writer = os.path.join(work, "writer.py")
    open(idle_js, "w").write(IDLE_JS)
    open(writer, "w").write(writer_py(a.lines))
    managers = []
    if a.only != "pm2":
        managers.append(Manager("pmr", a.pmr, "PMR_HOME", "pm2.pid", "logs"))
    if a.only != "pmr" and os.path.exists(a.pm2):
        managers.append(Manager("pm2", a.pm2, "PM2_HOME", "pm2.pid", "logs"))
    results = {}
    for m in managers:
        print(f"... {m.name}", file=sys.stderr)
        try:
            results[m.name] = bench(m, a, idle_js, writer, work)
        finally:
            m.kill()
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    names = [m.name for m in managers]
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{n:>10}" for n in names))
    for k in keys:
        cells = []
        for n in names:
            v = results[n].get(k, "-")
            cells.append(f"{v:>10.2f}" if isinstance(v, float) else f"{v!s:>10}")
        print(f"{k:{width}}  " + "  ".join(cells))
    print(f"bare respawn loop (kill -9, wait, spawn), ms median: {bare_respawn(a.rounds):.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
