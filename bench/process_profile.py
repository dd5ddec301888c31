#!/usr/bin/env python3
"""Instruction counts of a whole `pamtester` process per target, under
valgrind --tool=callgrind, split by shared object (BENCHMARKS.md, "Where
the time goes in a whole process").

    python3 bench/process_profile.py [--module SO] TARGET [TARGET ...]

TARGET is a bench.py target (permit, ga-secure, ga-default, oath, twostep,
...). Sets up the same user and files as bench.py, runs one right-code
pamtester process per target under callgrind, and prints the total and the
largest objects. Use an unstripped module for function names (see
bench/profile.py).
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402


def rows(callgrind_out):
    """(total, [(instructions, function, object)]) of a callgrind output,
    each function's own instructions (callgrind_annotate --inclusive=no);
    the function is as the output names it (mangled when recorded with
    valgrind --demangle=no), the object "?" when it names none."""
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(callgrind_out)],
                         capture_output=True, text=True, check=True).stdout
    total, found = 0, []
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)$", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(2):
            total = n
            continue
        f = re.match(r"\S*?:(\S+) \[([^\]]*)\]$", m.group(2))
        o = re.search(r"\[([^\]]*)\]$", m.group(2))
        found.append((n, f.group(1) if f else m.group(2), o.group(1) if o else "?"))
    return total, found


def objects(callgrind_out):
    """(total, instructions per shared object)."""
    total, found = rows(callgrind_out)
    per = collections.Counter()
    for n, _, obj in found:
        per[obj] += n
    return total, per


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default=os.environ.get("TWOSTEP_MODULE", str(B.DEFAULT_MODULE)))
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    bench = B.Bench(a.module, smoke=True)
    try:
        bench.setup()
        wrapper = bench.root / "callgrind-pamtester"
        for target in a.targets:
            prefix = bench.root / f"callgrind.process.{target}"
            wrapper.write_text("#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file="
                               f"{prefix}.%p /usr/bin/pamtester \"$@\" 2>/dev/null\n")
            wrapper.chmod(0o755)
            r = bench.drive(target, "process", 1)
            p = subprocess.run(r["args"] + ["--pamtester", str(wrapper)], capture_output=True, text=True)
            outs = glob.glob(f"{prefix}.*")
            if p.returncode != 0 or not outs:
                raise SystemExit(f"{target}: pamtester under callgrind failed\n{p.stdout}{p.stderr}")
            total, per = objects(outs[0])
            print(f"{target}: {total:,} Ir")
            for obj, n in per.most_common(6):
                print(f"  {n:>12,}  {obj}")
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
