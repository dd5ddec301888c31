"""Shared fixtures for twostep's integration tests.

twostep_bin  path of the twostep binary (env TWOSTEP_BIN, default the debug build)
daemon_bin   path of twostepd (env TWOSTEP_DAEMON, default this checkout's debug build); fails when missing
test_user    a fresh local user (useradd -m), removed afterwards; needs root
"""

import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass

import pytest


@pytest.fixture(scope="session")
def twostep_bin():
    path = os.environ.get("TWOSTEP_BIN", "/work/main/.build/debug/twostep")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no twostep binary at {path} (run 'swift build' or set TWOSTEP_BIN)")
    return path


@pytest.fixture(scope="session")
def daemon_bin():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("TWOSTEP_DAEMON", os.path.join(repo, ".build", "debug", "twostepd"))
    assert os.access(path, os.X_OK), f"no twostepd at {path} (swift build --product twostepd, or set TWOSTEP_DAEMON)"
    return path


@dataclass
class LocalUser:
    name: str
    uid: int
    gid: int
    home: str


@pytest.fixture
def test_user():
    """A new user `tscli-<random>` with a home directory."""
    if os.geteuid() != 0:
        pytest.skip("creating users needs root")
    name = "tscli-" + secrets.token_hex(4)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
    try:
        pw = pwd.getpwnam(name)
        yield LocalUser(name, pw.pw_uid, pw.pw_gid, pw.pw_dir)
    finally:
        subprocess.run(["userdel", "-r", "-f", name], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
