#!/usr/bin/env python3
"""`make bench`, fleet part (issue 14): pam_twostep.so with store=twostepd
on a real PostgreSQL 15, side by side with the file store and
google-authenticator's secure set-up, in one run.

    python3 bench/fleet.py --module SO --daemon TWOSTEPD --cli TWOSTEP [--rounds N] [--smoke]

Needs root, PostgreSQL 15 (/usr/lib/postgresql/15/bin), and what
bench/bench.py needs (it reuses its set-up: the user, the file store's
and google-authenticator's secret files, the pambench driver).

  1. latency, in-process (pambench, the same driver for every target):
     right code (pam_start + pam_authenticate + pam_end) and a first wrong
     code, interleaved round by round: twostep on PostgreSQL through
     twostepd (loopback TCP, scram-sha-256), twostep on a file, GA secure.
     Each right code is made acceptable again before every authentication,
     outside the timed region: the file by --restore, the fleet record by
     --before (an UPDATE putting the pristine record back);
  2. throughput: 64 logins at once across 8 hosts (8 pambench processes
     per host started together): one user with 64 backup codes (every
     login changes the same row), and 64 users with one TOTP code each.
     Logins per second, p99, and lost updates (a spent backup code that
     comes back, a step not recorded) — which must be zero;
  3. users: the right-code latency with 100 and with 100,000 records in
     the database (two databases, rounds interleaved).

Verdicts: fleet right code median ≤ 2 ms and ≤ GA secure; no lost update;
100,000 users ≤ 1.2 × 100 users.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "Tests" / "Integration"))

import bench as filebench  # noqa: E402
from fleet import PGBIN, Fleet, Host, code_at, current_step  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))] if v else float("nan")


def median(values):
    return percentile(values, 50)


class FleetBench:
    def __init__(self, args):
        self.args = args
        os.environ["TWOSTEP_BIN"] = args.cli
        self.bench = filebench.Bench(args.module, args.smoke)
        self.fleet = None
        self.users = []

    def setup(self):
        b = self.bench
        b.setup()
        self.fleet = Fleet(self.args.daemon, None, hosts=8, extra="max_failures=1000\n")
        pg = self.fleet.pg
        self.psql = (f"runuser -u postgres -- {PGBIN}/psql -X -q -h {pg.dir} "
                     f"-p {pg.port} -U postgres -d twostep -Atc")
        secret = b.targets["twostep"]["secret"]
        # The bench user's record, with the same secret as its file.
        r = self.fleet.hosts[0].cli("enroll", "--user", b.user, "--secret", secret,
                                    "--code", code_at(current_step(), secret), "--json")
        if r.returncode != 0:
            raise SystemExit("enrol in the fleet: " + r.stderr)
        # The pristine record has no last step: the current code is a fresh one.
        pg.sql("CREATE TABLE bench_pristine AS SELECT username, regexp_replace(record, ' last-step=[0-9]+', '') AS record "
               "FROM twostep_records")
        # Put the pristine record back, so the same right code is accepted again.
        self.reset = (f"{self.psql} \"UPDATE twostep_records r SET record = p.record, version = r.version + 1 "
                      f"FROM bench_pristine p WHERE r.username = p.username AND r.username = '{b.user}'\" >/dev/null")
        for i, h in enumerate(self.fleet.hosts):
            (b.confdir / f"fleet{i}").write_text(f"auth required {b.module} config={h.config}\naccount required pam_permit.so\n")
        b.targets["twostep-fleet"] = dict(service=None, secret=secret, restore=[], files=[])
        (b.confdir / "twostep-fleet").write_text((b.confdir / "fleet0").read_text())

    def cleanup(self):
        for u in self.users:
            subprocess.run(["userdel", "-r", "-f", u], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.fleet:
            self.fleet.cleanup()
        self.bench.cleanup()

    # ---- 1. latency

    def latency(self, rounds, n):
        b = self.bench
        times = {}
        failures = []
        targets = ["twostep-fleet", "twostep", "ga-secure"]
        for r in range(rounds):
            log(f"latency round {r + 1}/{rounds}")
            for t in targets:
                before = self.reset if t == "twostep-fleet" else None
                right = b.drive(t, "fresh", n + 1, before=before)
                wrong = b.drive(t, "reuse", n + 1, answer="@wrong", expect="PAM_AUTH_ERR", before=before)
                for mode, res in (("right", right), ("wrong", wrong)):
                    if not res["ok"]:
                        failures.append(f"{t} {mode}: unexpected result\n{res['out'][-2000:]}")
                    times.setdefault((t, mode), []).extend(s[0] for s in res["samples"][1:])
            targets = targets[1:] + targets[:1]
        return times, failures

    # ---- 2. throughput

    def make_user(self):
        name = "tsfleet-" + secrets.token_hex(4)
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name], check=True)
        self.users.append(name)
        return name

    def insert(self, user, text, db="twostep"):
        self.fleet.pg.sql(f"INSERT INTO twostep_records (username, record, version) VALUES ('{user}', $rec${text}$rec$, 1)", db=db)

    def storm(self, logins):
        """logins: (host, user, answer) — all started at once; per-login
        pam_authenticate times, results and the batch's wall time."""
        b = self.bench
        procs = []
        t0 = time.monotonic()
        for host, user, answer in logins:
            args = [str(b.driver), "--user", user, "--mode", "fresh", "--iterations", "1", "--service", f"fleet{host}",
                    "--confdir", str(b.confdir), "--answer", answer, "--answer", "n", "--rhost", filebench.RHOST]
            procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        out = []
        for p in procs:
            stdout, _ = p.communicate(timeout=120)
            sample = next((l.split() for l in stdout.splitlines() if l.startswith("SAMPLE")), None)
            out.append((int(sample[1]), sample[2]) if sample else (0, "NONE"))
        return out, time.monotonic() - t0

    def throughput(self):
        results = {}
        secret = self.bench.targets["twostep"]["secret"]
        # One user, 64 backup codes, 8 logins per host.
        one = self.make_user()
        codes = [filebench.new_backup_code() for _ in range(64)]
        self.insert(one, filebench.twostep_file(secret, codes))
        samples, wall = self.storm([(i % 8, one, c) for i, c in enumerate(codes)])
        left = self.fleet.pg.record(one).count("\nbackup ")
        ok = sum(r == "PAM_SUCCESS" for _, r in samples)
        results["one user"] = dict(ok=ok, lost=left, wall=wall, p99=percentile([t for t, _ in samples], 99),
                                   median=median([t for t, _ in samples]))
        # 64 users, one TOTP code each.
        many = [self.make_user() for _ in range(64)]
        for u in many:
            self.insert(u, filebench.twostep_file(secret, []))
        step = current_step()
        samples, wall = self.storm([(i % 8, u, code_at(step, secret)) for i, u in enumerate(many)])
        recorded = sum(f"last-step={step}" in self.fleet.pg.record(u) for u in many)
        ok = sum(r == "PAM_SUCCESS" for _, r in samples)
        results["64 users"] = dict(ok=ok, lost=64 - recorded, wall=wall, p99=percentile([t for t, _ in samples], 99),
                                   median=median([t for t, _ in samples]))
        return results

    # ---- 3. users

    def users_scale(self, rounds, n, big):
        b = self.bench
        pg = self.fleet.pg
        pg.sql("CREATE DATABASE twostep_big OWNER twostep", db="postgres")
        host = Host(9, self.fleet.top, self.args.daemon, pg, None, extra="max_failures=1000\n", database="twostep_big")
        m = host.migrate()
        if m.returncode != 0:
            raise SystemExit("migrate twostep_big: " + m.stderr)
        host.start()
        self.fleet.hosts.append(host)
        template = pg.sql(f"SELECT record FROM bench_pristine WHERE username = '{b.user}'").replace("'", "''")
        for db, count in (("twostep", 100), ("twostep_big", big)):
            have = int(pg.sql("SELECT count(*) FROM twostep_records", db=db))
            pg.sql(f"INSERT INTO twostep_records (username, record, version) SELECT 'tsfleet-other-' || g, '{template}', 1 "
                   f"FROM generate_series(1, {max(0, count - have - (1 if db == 'twostep_big' else 0))}) g", db=db)
        pg.sql(f"INSERT INTO twostep_records (username, record, version) VALUES ('{b.user}', '{template}', 1)", db="twostep_big")
        pg.sql("CREATE TABLE bench_pristine AS SELECT username, record FROM twostep_records WHERE username LIKE 'tsbench-%'", db="twostep_big")
        pg.sql("ANALYZE twostep_records", db="twostep_big")
        (b.confdir / "twostep-fleet-big").write_text(f"auth required {b.module} config={host.config}\naccount required pam_permit.so\n")
        b.targets["twostep-fleet-big"] = b.targets["twostep-fleet"]
        counts = {db: int(pg.sql("SELECT count(*) FROM twostep_records", db=db)) for db in ("twostep", "twostep_big")}
        times = {}
        for r in range(rounds):
            for t, db in ((("twostep-fleet", "twostep"), ("twostep-fleet-big", "twostep_big")) if r % 2 == 0
                          else (("twostep-fleet-big", "twostep_big"), ("twostep-fleet", "twostep"))):
                before = self.reset.replace("-d twostep ", f"-d {db} ")
                res = b.drive(t, "fresh", n + 1, before=before)
                if not res["ok"]:
                    raise SystemExit(f"{t}: a right code was refused\n{res['out'][-2000:]}")
                times.setdefault(t, []).extend(s[0] for s in res["samples"][1:])
        return times, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", default=str(filebench.DEFAULT_MODULE))
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    args.daemon, args.cli, args.module = (os.path.abspath(p) for p in (args.daemon, args.cli, args.module))
    rounds = args.rounds or (1 if args.smoke else 10)
    n = 3 if args.smoke else 20
    fb = FleetBench(args)
    verdicts = []
    try:
        fb.setup()
        times, failures = fb.latency(rounds, n)
        thr = fb.throughput()
        scale, counts = fb.users_scale(max(2, rounds // 2), n, 1000 if args.smoke else 100_000)
    finally:
        fb.cleanup()

    def us(v):
        return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"

    print("\n== Fleet mode (store=twostepd, PostgreSQL 15 on loopback TCP) ==")
    print(f"{'target':<16} {'right median':>13} {'right p90':>10} {'wrong median':>13} {'wrong p90':>10}")
    for t, name in (("twostep-fleet", "twostep fleet"), ("twostep", "twostep file"), ("ga-secure", "GA secure")):
        r, w = times[(t, "right")], times[(t, "wrong")]
        print(f"{name:<16} {us(median(r)):>13} {us(percentile(r, 90)):>10} {us(median(w)):>13} {us(percentile(w, 90)):>10}")
    fleet_right = median(times[("twostep-fleet", "right")])
    ga_right = median(times[("ga-secure", "right")])
    print(f"fleet/file right: {fleet_right / median(times[('twostep', 'right')]):.2f}×, fleet/GA secure right: {fleet_right / ga_right:.2f}×")
    print("\nThroughput: 64 logins at once across 8 hosts")
    for name, r in thr.items():
        print(f"  {name:<9} {r['ok']}/64 succeeded, {64 / r['wall']:.0f} logins/s (batch {r['wall'] * 1000:.0f} ms, process start included), "
              f"median {us(r['median'])}, p99 {us(r['p99'])}, lost updates {r['lost']}")
    small, big = median(scale["twostep-fleet"]), median(scale["twostep-fleet-big"])
    print(f"\nUsers: {counts['twostep']:,} records {us(small)}, {counts['twostep_big']:,} records {us(big)}: {big / small:.2f}×")

    verdicts.append(("fleet right code ≤ 2 ms median", fleet_right <= 2000, us(fleet_right)))
    verdicts.append(("fleet right code ≤ GA secure", fleet_right <= ga_right, f"{fleet_right / ga_right:.2f}× GA secure"))
    for name, r in thr.items():
        verdicts.append((f"64 at once, {name}: all succeed, nothing lost", r["ok"] == 64 and r["lost"] == 0,
                         f"{r['ok']}/64, lost {r['lost']}"))
    verdicts.append((f"{counts['twostep_big']:,} users ≤ 1.2 × {counts['twostep']:,}", big <= 1.2 * small, f"{big / small:.2f}×"))
    print()
    for name, ok, detail in verdicts:
        print(f"{'PASS' if ok or args.smoke else 'FAIL'}  {name}: {detail}" + ("" if ok or not args.smoke else "  (smoke: not judged)"))
    for f in failures:
        print("FAILURE:", f)
    if failures or any(not ok for name, ok, _ in verdicts if "nothing lost" in name):
        sys.exit(1)
    if not args.smoke and not all(ok for _, ok, _ in verdicts):
        sys.exit(3)


if __name__ == "__main__":
    main()
