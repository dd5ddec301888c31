#!/usr/bin/env python3
"""`make bench`, part 2: self-service calls through twostepd against the
direct file path (issue 13), side by side, interleaved round by round.

    python3 bench/selfservice.py --cli BIN --daemon BIN [--rounds N] [--smoke]

Needs root. Makes a throw-away user `tsself-XXXX`, a root-owned store in
/var/tmp and a twostepd in the foreground on its own socket directory
(`twostepd --socket-dir`), enrols the user twice with one secret (once in
~/.twostep, once through the daemon into the root-owned store), then times
whole `twostep` processes run as the user (runuser is outside the timed
region: the clock starts after the fork in a small C-free Python loop, so
both paths pay the same exec):

  status        `twostep status --json`
  wrong verify  `twostep verify --code 000000` (max_failures is raised so
                that no lock-out starts; every answer is checked to be a refusal)

Prints the median and p90 of each, and the daemon/file ratio. No verdict:
the issue asks for the numbers side by side; BENCHMARKS.md quotes them.
--smoke: 3 rounds, results checked.
"""

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp():
    return subprocess.run(["oathtool", "--totp", "-b", SECRET], check=True, capture_output=True, text=True).stdout.strip()


def root_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    rounds = 3 if args.smoke else args.rounds

    name = "tsself-" + secrets.token_hex(3)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
    top = root_dir(tempfile.mkdtemp(prefix="twostep-selfbench-", dir="/var/tmp"))
    daemon = None
    try:
        pw = pwd.getpwnam(name)
        store = root_dir(os.path.join(top, "store"), 0o700)
        sockets = root_dir(os.path.join(top, "run"))
        policy = "max_failures=1000\nlockout=0\n"
        managed = os.path.join(top, "managed.conf")
        home = os.path.join(top, "home.conf")
        with open(managed, "w") as f:
            f.write(f"store={store}/%u\n{policy}")
        with open(home, "w") as f:
            f.write(f"store=%h/.twostep\n{policy}")
        for p in (managed, home):
            os.chmod(p, 0o644)
        log = open(os.path.join(top, "twostepd.log"), "w")
        daemon = subprocess.Popen([args.daemon, "--socket-dir", sockets, "--config", managed], stdout=log, stderr=log)
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(sockets, "io.twostep.Manage")):
            assert daemon.poll() is None and time.time() < deadline, "twostepd did not start"
            time.sleep(0.05)
        time.sleep(0.2)

        envs = {
            "file": dict(os.environ, TWOSTEP_CONFIG=home),
            "daemon": dict(os.environ, TWOSTEP_CONFIG=managed, TWOSTEP_SOCKET_DIR=sockets),
        }

        def run(path, *argv):
            return subprocess.run(["runuser", "-u", name, "--", args.cli, *argv], env=envs[path],
                                  capture_output=True, text=True, cwd="/", timeout=60)

        for path in envs:
            r = run(path, "enroll", "--secret", SECRET, "--code", totp(), "--json")
            assert r.returncode == 0, (path, r.stderr)
        assert os.path.exists(os.path.join(pw.pw_dir, ".twostep"))
        assert os.path.exists(os.path.join(store, name))

        tests = {
            "status": (["status", "--json"], 0),
            "wrong verify": (["verify", "--code", "000000"], 1),
        }
        times = {(t, p): [] for t in tests for p in envs}
        for _ in range(rounds):
            for t, (argv, expected) in tests.items():
                for p in envs:
                    t0 = time.perf_counter()
                    r = run(p, *argv)
                    elapsed = time.perf_counter() - t0
                    assert r.returncode == expected, (t, p, r.returncode, r.stderr)
                    times[(t, p)].append(elapsed * 1000)
        # runuser's own cost, to subtract: `true` through runuser.
        base = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            subprocess.run(["runuser", "-u", name, "--", "true"], check=True)
            base.append((time.perf_counter() - t0) * 1000)
        floor = statistics.median(base)

        print(f"self-service through twostepd vs the file path ({rounds} rounds, whole `twostep` processes as the user;")
        print(f"runuser + exec of `true` = {floor:.2f} ms, subtracted)")
        print(f"{'call':<14} {'file median':>12} {'file p90':>9} {'daemon median':>14} {'daemon p90':>11} {'ratio':>6}")
        result = {}
        for t in tests:
            row = []
            for p in envs:
                xs = sorted(x - floor for x in times[(t, p)])
                row += [statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.9))]]
            result[t] = row
            print(f"{t:<14} {row[0]:>9.2f} ms {row[1]:>6.2f} ms {row[2]:>11.2f} ms {row[3]:>8.2f} ms {row[2] / row[0]:>5.2f}x")
        failures = json.loads(run("daemon", "status", "--json").stdout)["failures"]
        assert failures == rounds, f"the daemon counted {failures} wrong codes, {rounds} were sent"
        print(f"every wrong code counted: {failures} failures recorded through the daemon")
    finally:
        if daemon and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=20)
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
