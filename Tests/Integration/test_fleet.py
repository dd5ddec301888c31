"""Issue 14: fleet mode. One enrolment valid on every host; each code
accepted at most once across the fleet, one failure count, never a silent
fail-open. See fleet.py for the harness (real PostgreSQL 15, 8 twostepd
instances, the real module through pamdriver)."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fleet import SECRET, Fleet, code_at, current_step
from pamtest import module, pamdriver, pam, users  # noqa: F401 (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def daemon_bin():
    path = os.environ.get("TWOSTEP_DAEMON", os.path.join(REPO, ".build", "debug", "twostepd"))
    assert os.access(path, os.X_OK), f"no twostepd at {path}"
    return path


@pytest.fixture
def fleet(daemon_bin, pam):
    f = Fleet(daemon_bin, pam, hosts=8, extra="window=10\n")
    yield f
    f.cleanup()


def test_enrol_on_host_1_log_in_on_host_8(fleet, users):
    u = users.make()
    fleet.enroll(u, host=0)
    step = current_step() + 1
    r = fleet.login(7, u, code_at(step))
    assert r.result == "PAM_SUCCESS", str(r) + fleet.hosts[7].logtext()
    # The same code on host 1 afterwards: a replay.
    r = fleet.login(0, u, code_at(step))
    assert r.result == "PAM_AUTH_ERR", r
