#!/usr/bin/env python3
"""Interleaved timing of several builds of pam_twostep.so (A/B): the same
user, file and PAM stack as bench.py, the builds taking turns round by
round, so that the noise of this shared machine falls on each alike.

    python3 bench/ab.py [--mode wrong|process] [--rounds N] SO [SO ...]

wrong:   the first-guess wrong code of `make bench` (pambench --mode reuse,
         the pristine file restored before each guess), 30 per round
process: a whole pamtester process with a right code, 15 per round

Prints, per build, the median of each round and the median of those.
Used for the history rows of BENCHMARKS.md.
"""
import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["wrong", "process"], default="wrong")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("modules", nargs="+")
    a = ap.parse_args()
    modules = [str(Path(m).resolve()) for m in a.modules]
    bench = B.Bench(modules[0], smoke=True)
    medians = {m: [] for m in modules}
    try:
        bench.setup()
        if a.mode == "wrong":
            r = bench.drive("twostep", "reuse", 1, answer="@wrong", expect="PAM_AUTH_ERR")
            count, service = 30, None
        else:
            r = bench.drive("twostep", "process", 1)
            count, service = 15, True
        args = r["args"]
        args[args.index("--iterations") + 1] = str(count)
        name = args[args.index("--service") + 1]
        stack = Path("/etc/pam.d", name) if service else bench.confdir / name
        text = stack.read_text()
        for _ in range(a.rounds):
            for m in modules:
                stack.write_text(re.sub(r"^auth required \S+", f"auth required {m}", text, count=1, flags=re.M))
                p = subprocess.run(args, capture_output=True, text=True, timeout=600)
                if f"DONE {count} {count}" not in p.stdout:
                    raise SystemExit(f"{m}: unexpected results\n{p.stdout[-500:]}{p.stderr[-500:]}")
                xs = [int(l.split()[1]) for l in p.stdout.splitlines() if l.startswith("SAMPLE")]
                # In-process: the first sample loads the module.
                medians[m].append(statistics.median(xs[1:] if a.mode == "wrong" else xs))
        for m in modules:
            print(f"{m}: {' '.join(str(int(x)) for x in medians[m])}  median {statistics.median(medians[m]):.0f} µs")
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
