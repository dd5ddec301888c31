#!/usr/bin/env python3
"""Writes pam/hot-symbols.txt: the functions of pam_twostep.so that run when
a process loads the module and logs in (a right code, then a wrong one),
hottest first, for lld's --symbol-ordering-file (Makefile, PACKED_RELOCS).
Placed next to each other, they take a few dozen pages of the module's
~5 MB of code instead of being spread over it: fewer page faults and TLB
misses in every process that loads the module (BENCHMARKS.md, row 21).

    python3 bench/order-file.py --module UNSTRIPPED_SO

UNSTRIPPED_SO: the module built with the Makefile's MODULE_FLAGS minus
`-Xlinker -s`: `make hot-symbols` builds it and runs this; `make test`
checks the list is not stale (bench/hot-symbols-check.py). Names the code no longer has
are skipped by the linker, so an old list only orders less; run this again
after larger changes to the login path.
"""
import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402
import process_profile  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "pam" / "hot-symbols.txt"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    a = ap.parse_args()
    module = str(Path(a.module).resolve())
    bench = B.Bench(module, smoke=True)
    cost = {}
    try:
        bench.setup()
        for answer, expect in (("@totp", "PAM_SUCCESS"), ("@wrong", "PAM_AUTH_ERR")):
            r = bench.drive("twostep", "fresh", 1, answer=answer, expect=expect)
            args = r["args"]
            args[args.index("--iterations") + 1] = "2"
            out = bench.root / f"callgrind.order.{answer.strip('@')}"
            run = subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}"] + args,
                                 capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"callgrind run failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
            for n, function, obj in process_profile.rows(out)[1]:
                if obj == module and not function.startswith("0x"):
                    cost[function] = cost.get(function, 0) + n
    finally:
        bench.cleanup()
    names = sorted(cost, key=lambda n: -cost[n])
    OUT.write_text("# Functions of pam_twostep.so that a login runs, hottest first: lld's\n"
                   "# --symbol-ordering-file (Makefile). Written by bench/order-file.py.\n"
                   + "".join(f"{n}\n" for n in names))
    print(f"{OUT}: {len(names)} functions")


if __name__ == "__main__":
    main()
