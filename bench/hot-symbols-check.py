#!/usr/bin/env python3
"""Fails when pam/hot-symbols.txt has gone stale: when more than a tenth of
the project's own functions it lists (those of the module's Swift targets)
no longer exist in the module's objects, the linker places less and less of
the login path together (lld skips the names it does not find). Run by
`make test`; `make hot-symbols` writes the list anew.

    python3 bench/hot-symbols-check.py MODULE_BUILD_DIR

MODULE_BUILD_DIR: the module's release build (.build-module/release), whose
object files still carry the symbols the stripped module lost.
"""
import subprocess
import sys
from pathlib import Path

TARGETS = ["TwoStepCore", "TwoStepStore", "TwoStepChannels", "TwoStepWire", "PAMTwoStep"]
LIST = Path(__file__).resolve().parent.parent / "pam" / "hot-symbols.txt"
MOST_MISSING = 0.10


def defined(build: Path) -> set:
    objects = [str(o) for t in TARGETS for o in sorted((build / f"{t}.build").glob("*.o"))]
    if not objects:
        sys.exit(f"hot-symbols-check: no object files under {build}: run 'make module' first")
    out = subprocess.run(["nm", "--defined-only", "--format=just-symbols", *objects],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    have = defined(Path(sys.argv[1]))
    listed = [l.strip() for l in LIST.read_text().splitlines() if l.strip() and not l.startswith("#")]
    own = [n for n in listed if any(t in n for t in TARGETS)]
    missing = [n for n in own if n not in have]
    share = len(missing) / len(own) if own else 1.0
    print(f"{LIST.name}: {len(listed)} functions, {len(own)} of the project's; "
          f"{len(missing)} of those no longer exist ({share:.0%})")
    if share > MOST_MISSING:
        for n in missing[:10]:
            print(f"  missing: {n}")
        sys.exit(f"{LIST} is stale (more than {MOST_MISSING:.0%} missing): run 'make hot-symbols' and commit it")


if __name__ == "__main__":
    main()
