"""Shared fixtures for twostep's integration tests.

twostep_bin  path of the twostep binary (env TWOSTEP_BIN, default this checkout's debug build)
daemon_bin   path of twostepd (env TWOSTEP_DAEMON, likewise); each fails, naming the build command, when missing
daemon_test_bin  path of twostepd-test (env TWOSTEP_DAEMON_TEST, likewise): twostepd plus io.twostep.Test
             (--test-interface), which the shipped twostepd does not serve
test_user    a fresh local user (useradd -m), removed afterwards; needs root
"""

import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass

import pytest


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def built(variable, product):
    """The binary `variable` names, else this checkout's debug build of
    `product`; a missing one fails the test, naming how to build it."""
    path = os.environ.get(variable, os.path.join(REPO, ".build", "debug", product))
    assert os.access(path, os.X_OK), f"no {product} at {path} (swift build --product {product}, or set {variable})"
    return path


@pytest.fixture(scope="session")
def twostep_bin():
    return built("TWOSTEP_BIN", "twostep")


@pytest.fixture(scope="session")
def daemon_bin():
    return built("TWOSTEP_DAEMON", "twostepd")


@pytest.fixture(scope="session")
def daemon_test_bin():
    return built("TWOSTEP_DAEMON_TEST", "twostepd-test")


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
