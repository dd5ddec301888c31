"""Issue 12: a code given to authorise a change that then fails is not spent.

Each command that takes --code is run by an ordinary user with a right
code (a TOTP code from oathtool, or a backup code) and made to fail after
the code was checked: the code must still be accepted afterwards
(`twostep verify` spends it then, which proves it was unspent). And a code
spent by a login while a phone is being confirmed makes that change fail.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from test_cli import CLI, SECRET, SECRET2, totp
from harness import REPO, cli_argv, cli_env
from pamtest import avoid_step_edge

SPOOL_PLUGIN = os.path.join(REPO, "channels", "spool")
PHONE = "+966501234534"


@pytest.fixture
def cli(test_user):
    return CLI(test_user)


@pytest.fixture
def enrolled(cli):
    """The user, enrolled; returns one of their backup codes."""
    avoid_step_edge(margin=8)
    return cli.enroll()["backup_codes"][0]


def root_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


@pytest.fixture
def spool_channels(tmp_path):
    """The shipped spool plugin as sms: it needs root, so it fails for a user."""
    os.chmod(tmp_path, 0o755)
    d = root_dir(str(tmp_path / "spool-channels"))
    shutil.copy(SPOOL_PLUGIN, os.path.join(d, "sms"))
    os.chmod(os.path.join(d, "sms"), 0o755)
    return d


@pytest.fixture
def user_channels():
    """A root-owned sms plugin that works for anyone: it appends the code to
    a file the test reads. Returns (channels directory, codes file). Not
    under pytest's tmp_path, which other users cannot reach."""
    top = root_dir(tempfile.mkdtemp(prefix="twostep-channels-", dir="/var/tmp"))
    yield from _user_channels(top)
    shutil.rmtree(top, ignore_errors=True)


def _user_channels(top):
    d = root_dir(os.path.join(top, "channels"))
    box = root_dir(os.path.join(top, "box"), 0o1777)
    codes = os.path.join(box, "codes")
    plugin = os.path.join(d, "sms")
    with open(plugin, "w") as f:
        f.write(f'#!/bin/sh\nprintf "%s\\n" "$TWOSTEP_CODE" >> {codes}\n')
    os.chmod(plugin, 0o755)
    yield d, codes


def unspent(cli, code):
    """The code is still accepted (and is spent by this check)."""
    r = cli.run("verify", "--code", code)
    return r.returncode == 0


def authorizing_codes(backup):
    """A TOTP code of the next step (enrolment spent this one) and a backup code."""
    return [("totp", lambda: totp(SECRET, 30)), ("backup", lambda: backup)]


@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_add_phone_whose_plugin_fails_spends_nothing(cli, enrolled, spool_channels, kind):
    code = dict(authorizing_codes(enrolled))[kind]()
    r = cli.run("add", "phone", PHONE, "--channel", "sms", "--channels", spool_channels, "--code", code)
    assert r.returncode == 1, r
    assert "the phone was not added" in r.stderr
    assert "backup codes left" not in r.stderr
    assert cli.status()[1]["phones"] == []
    assert unspent(cli, code)


@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_add_phone_with_a_wrong_confirmation_spends_nothing(cli, enrolled, user_channels, kind):
    channels, _ = user_channels
    code = dict(authorizing_codes(enrolled))[kind]()
    r = cli.run("add", "phone", PHONE, "--channels", channels, "--code", code, stdin="000000\n")
    assert r.returncode == 1, r
    assert "not the code sent" in r.stderr
    assert unspent(cli, code)


def test_add_phone_confirmed_spends_the_code(cli, enrolled, user_channels):
    channels, codes = user_channels
    proc = start_add_phone(cli, channels, enrolled)
    sent = wait_for_code(codes)
    out, err = proc.communicate(sent + "\n", timeout=30)
    assert proc.returncode == 0, err
    assert "Added phone phone-1" in out
    assert "9 backup codes left" in err
    assert not unspent(cli, enrolled)


@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_code_spent_by_a_login_meanwhile_refuses_the_change(cli, enrolled, user_channels, kind):
    channels, codes = user_channels
    code = dict(authorizing_codes(enrolled))[kind]()
    proc = start_add_phone(cli, channels, code)
    sent = wait_for_code(codes)
    assert unspent(cli, code)  # spent now, as a login would spend it
    out, err = proc.communicate(sent + "\n", timeout=30)
    assert proc.returncode == 1, (out, err)
    assert "already used" in err or "wrong code" in err
    assert cli.status()[1]["phones"] == []


@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_add_totp_with_a_wrong_new_code_spends_nothing(cli, enrolled, kind):
    code = dict(authorizing_codes(enrolled))[kind]()
    r = cli.run("add", "totp", "--secret", SECRET2, "--no-qr", "--new-code", "000000", "--code", code)
    assert r.returncode == 1, r
    assert unspent(cli, code)


@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_enroll_force_with_a_wrong_new_code_keeps_the_old_code(cli, enrolled, kind):
    code = dict(authorizing_codes(enrolled))[kind]()
    r = cli.run("enroll", "--force", "--secret", SECRET2, "--no-qr", "--code", "000000", "--old-code", code)
    assert r.returncode == 1, r
    assert unspent(cli, code)
    assert cli.status()[1]["authenticators"][0]["id"] == "totp-1"


@pytest.mark.parametrize("command", [["remove", "totp-1"], ["remove", "phone-9"], ["trust", "revoke", "trust-9"]])
@pytest.mark.parametrize("kind", ["totp", "backup"])
def test_refused_changes_spend_nothing(cli, enrolled, command, kind):
    code = dict(authorizing_codes(enrolled))[kind]()
    r = cli.run(*command, "--code", code)
    assert r.returncode == 2, r
    assert unspent(cli, code)


def test_a_wrong_authorizing_code_still_counts(cli, enrolled, spool_channels):
    r = cli.run("add", "phone", PHONE, "--channels", spool_channels, "--code", "000000")
    assert r.returncode == 1 and "wrong code" in r.stderr
    assert cli.status()[1]["failures"] == 1


def start_add_phone(cli, channels, code):
    """`twostep add phone` as the user, left waiting for the confirmation on its stdin."""
    return subprocess.Popen(
        cli_argv("add", "phone", PHONE, "--channels", channels, "--code", code, user=cli.user),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env=cli_env(cli.user))


def wait_for_code(path, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().split()
            if lines:
                os.unlink(path)
                return lines[-1]
        time.sleep(0.05)
    raise AssertionError("no code was sent")
