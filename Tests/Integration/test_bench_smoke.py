"""Smoke run of the benchmark (`make bench`, bench/bench.py --smoke): every
peer and pam_twostep.so set up as in the real run, a few authentications of
each kind, every outcome checked (right codes accepted, wrong ones refused,
64 concurrent logins with no lost update). No timing is asserted: the
targets are judged by `make bench` only."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODULE = Path(os.environ.get("TWOSTEP_MODULE", REPO / ".build-module" / "release" / "libpam_twostep.so"))
PEERS = ["/lib/x86_64-linux-gnu/security/pam_google_authenticator.so",
         "/lib/x86_64-linux-gnu/security/pam_oath.so", "/usr/bin/pamtester",
         "/usr/bin/google-authenticator", "/usr/bin/oathtool"]


def test_bench_smoke():
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root (a throw-away user, /etc/pam.d services)")
    if not MODULE.is_file():
        pytest.fail(f"no module at {MODULE}: make module")
    missing = [p for p in PEERS if not os.path.exists(p)]
    if missing:
        pytest.fail(f"benchmark peers missing (make test-deps): {missing}")
    p = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--smoke", "--module", str(MODULE)],
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "WRONG OUTCOMES" not in out, out
    for target in ("permit", "ga-secure", "ga-default", "oath", "twostep"):
        assert any(line.startswith(target + " ") for line in p.stdout.splitlines()), out
    assert "PASS  64 concurrent logins, no lost update" in out, out
    # A smoke run judges no timing.
    assert "FAIL " not in out, out


def test_fleet_bench_smoke():
    """bench/fleet.py --smoke: fleet mode against the file store and GA
    secure, 64 logins at once across 8 hosts with no lost update, 100 vs
    1,000 records; outcomes checked, no timing judged."""
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root")
    daemon = os.environ.get("TWOSTEP_DAEMON", str(REPO / ".build" / "debug" / "twostepd"))
    cli = os.environ.get("TWOSTEP_BIN", str(REPO / ".build" / "debug" / "twostep"))
    p = subprocess.run([sys.executable, str(REPO / "bench" / "fleet.py"), "--smoke", "--module", str(MODULE),
                        "--daemon", daemon, "--cli", cli], capture_output=True, text=True, timeout=900)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for target in ("twostep fleet", "twostep file", "GA secure"):
        assert any(line.startswith(target) for line in p.stdout.splitlines()), out
    assert "PASS  64 at once, one user: all succeed, nothing lost: 64/64, lost 0" in out, out
    assert "PASS  64 at once, 64 users: all succeed, nothing lost: 64/64, lost 0" in out, out
    assert "FAILURE" not in out, out
