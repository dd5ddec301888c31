#!/usr/bin/env python3
"""Instruction counts of one pam_twostep.so authentication, under
valgrind --tool=callgrind (repeatable on a noisy machine, unlike time).

    python3 bench/profile.py [--module SO] [--target twostep|twostep-full|...]
                             [--answer @totp|@wrong] [--mode fresh|reuse]
                             [--iterations N] [--collect FUNCTION] [--keep DIR]

Sets up the same user and files as bench.py, runs pambench under callgrind
for 3 authentications (the first loads the module), and prints the
instruction count (Ir) of the whole run and of the last authentication's
share, plus the top functions (callgrind_annotate) when --keep is given.
With --collect pam_sm_authenticate only the module's own calls are counted
(not pambench's restore of the state file): run it with --iterations 1 and
5, and (Ir5 - Ir1) / 4 is one authentication on a loaded module.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get("TWOSTEP_MODULE", str(B.DEFAULT_MODULE)))
    ap.add_argument("--target", default="twostep")
    ap.add_argument("--answer", default="@totp")
    ap.add_argument("--mode", default="fresh")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--collect", help="count only inside this function (callgrind --toggle-collect)")
    ap.add_argument("--keep", help="directory for the callgrind.out file and annotation")
    a = ap.parse_args()
    bench = B.Bench(a.module, smoke=True)
    try:
        bench.setup()
        r = bench.drive(a.target, a.mode, 1, answer=a.answer,
                        expect="PAM_SUCCESS" if a.answer == "@totp" else "PAM_AUTH_ERR")
        args = r["args"]
        args[args.index("--iterations") + 1] = str(a.iterations)
        out = Path(a.keep or bench.root) / f"callgrind.{a.target}.{a.answer.strip('@')}.out"
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        collect = [f"--toggle-collect={a.collect}"] if a.collect else ["--collect-atstart=yes"]
        p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + collect + args,
                           capture_output=True, text=True)
        total = [l for l in p.stderr.splitlines() if "Collected" in l]
        print(f"{a.target} {a.mode} {a.answer} x{a.iterations}: {total[-1].split(':')[-1].strip() if total else p.stderr[-2000:]} Ir")
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(out)], capture_output=True, text=True).stdout
        print("\n".join(ann.splitlines()[:60]))
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
