"""Smoke run of the benchmark (`make bench`, bench/bench.py --smoke): every
peer and pam_twostep.so set up as in the real run, a few authentications of
each kind, every outcome checked (right codes accepted, wrong ones refused,
64 concurrent logins with no lost update). No timing is asserted: the
targets are judged by `make bench` only."""

import os
import subprocess
import sys

import pytest

from harness import REPO

PEERS = ["/lib/x86_64-linux-gnu/security/pam_google_authenticator.so",
         "/lib/x86_64-linux-gnu/security/pam_oath.so", "/usr/bin/pamtester",
         "/usr/bin/google-authenticator", "/usr/bin/oathtool"]


def test_bench_smoke(module):
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root (a throw-away user, /etc/pam.d services)")
    missing = [p for p in PEERS if not os.path.exists(p)]
    if missing:
        pytest.fail(f"benchmark peers missing (make test-deps): {missing}")
    p = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--smoke", "--module", module],
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "WRONG OUTCOMES" not in out, out
    for target in ("permit", "ga-secure", "ga-default", "oath", "twostep"):
        assert any(line.startswith(target + " ") for line in p.stdout.splitlines()), out
    assert "PASS  64 concurrent logins, no lost update" in out, out
    # A smoke run judges no timing.
    assert "FAIL " not in out, out


def test_fleet_bench_smoke(module, daemon_bin, twostep_bin):
    """bench/fleet.py --smoke: fleet mode against the file store and GA
    secure, 64 logins at once across 8 hosts with no lost update, 100 vs
    1,000 records; outcomes checked, no timing judged."""
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root")
    p = subprocess.run([sys.executable, str(REPO / "bench" / "fleet.py"), "--smoke", "--module", module,
                        "--daemon", daemon_bin, "--cli", twostep_bin], capture_output=True, text=True, timeout=900)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for target in ("twostep fleet", "twostep file", "GA secure"):
        assert any(line.startswith(target) for line in p.stdout.splitlines()), out
    assert "PASS  64 at once, one user: all succeed, nothing lost: 64/64, lost 0" in out, out
    assert "PASS  64 at once, 64 users: all succeed, nothing lost: 64/64, lost 0" in out, out
    assert "FAILURE" not in out, out
