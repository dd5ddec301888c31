"""`twostep report [--json]` (SPEC §10): one row per account with a login
shell, for users in every state, in a home-directory store and in an
administrator-managed one.

Runs the CLI (TWOSTEP_BIN) as root. The factor files are written by hand in
the v1 format (pamtest helpers) so that each state is exact; the last
accepted time comes from real `twostep verify` runs (codes from oathtool).
TWOSTEP_CONFIG names a missing file (the built-in defaults: %h/.twostep)
unless a test writes its own twostep.conf, so the host's configuration
never matters.
"""

import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import pytest

from harness import cli, wrong_code
from pamtest import (avoid_step_edge, backup_line, factor_text, failures_line, new_backup_code, new_secret,
                     records, totp_code, trust_line)

NO_CONFIG = "/nonexistent/twostep.conf"
DAY = 86400


def phone_line(id, channel, number="+966501234534", label="mobile"):
    return f"phone id={id} number={number} channel={channel} label={label} created=1"


def pending_line(code, phone="phone-1", id="pending-1"):
    """A code sent to `phone` and not used yet, valid for 5 minutes from now."""
    salt = os.urandom(16)
    digest = hmac.new(salt, code.encode(), hashlib.sha256).hexdigest()
    now = int(time.time())
    return f"pending id={id} phone={phone} salt={salt.hex()} hash={digest} created={now} expires={now + 300}"


class Twostep:
    """harness.cli with this test's TWOSTEP_CONFIG."""

    def __init__(self, config=NO_CONFIG):
        self.config = config

    def run(self, *args, as_user=None):
        return cli(*args, user=as_user, config=self.config, timeout=120)

    def report(self, *args):
        r = self.run("report", "--json", *args)
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)  # the whole of standard output is one object
        return {row["user"]: row for row in data["accounts"]}, data

    def verify(self, user, code, *args):
        return self.run("verify", "--user", user.name, "--code", code, *args)


@pytest.fixture
def twostep():
    return Twostep()


@pytest.fixture
def accounts(users):
    """Users in every state, each with ~/.twostep written by hand:
    plain (no file), full (totp x2, sms, voice, 3 backup codes), locked
    (a running lock-out), expired_lock (a lock-out that has run out),
    trusting (trusted devices: valid, expired, beyond trust_days),
    nobackup (an authenticator, no backup code left), empty (a record
    with no method), corrupt (a bad line), unsafe (mode 0644), phone (a
    sent code pending), and hidden (shell nologin: not listed)."""
    now = int(time.time())
    made = {}

    def make(key, *lines, mode=0o600, text=None):
        u = users.make()
        u.secret = new_secret()
        u.backups = []
        if text is not None or lines:
            u.write_factors(text if text is not None else factor_text(*lines), mode=mode)
        made[key] = u
        return u

    make("plain")
    full = made["full"] = users.make()
    full.secret, full.backups = new_secret(), [new_backup_code() for _ in range(3)]
    full.write_factors(factor_text(
        totp_line_(full.secret, "totp-1"), totp_line_(new_secret(), "totp-2"),
        phone_line("phone-1", "sms"), phone_line("phone-2", "voice"),
        *[backup_line(c, id=f"backup-{i + 1}") for i, c in enumerate(full.backups)]))
    locked = make("locked")
    # Within the default lockout (300 s): a lock-out stored beyond it is
    # reported, as a login enforces it, capped at 300 s from now.
    locked.write_factors(factor_text(failures_line(5, locked_until=now + 200, last=now - 5),
                                     totp_line_(locked.secret), backup_line(new_backup_code())))
    expired = make("expired_lock")
    expired.write_factors(factor_text(failures_line(5, locked_until=now - 10, last=now - 310),
                                      totp_line_(expired.secret), backup_line(new_backup_code())))
    trusting = make("trusting")
    trusting.backups = [new_backup_code(), new_backup_code()]
    trusting.write_factors(factor_text(
        totp_line_(trusting.secret),
        *[backup_line(c, id=f"backup-{i + 1}") for i, c in enumerate(trusting.backups)],
        trust_line("trust-1", service="sshd", rhost="192.0.2.7", created=now - 100, expires=now + 10 * DAY),
        trust_line("trust-2", service="sshd", rhost="192.0.2.8", created=now - 2 * DAY, expires=now - 1),
        # Beyond trust_days (30) from its creation, whatever expires says.
        trust_line("trust-3", service="sshd", key="SHA256:abc", created=now - 40 * DAY, expires=now + DAY)))
    nobackup = make("nobackup")
    nobackup.write_factors(factor_text(totp_line_(nobackup.secret)))
    make("empty", text="twostep 1\n")
    make("corrupt", text="twostep 1\nbogus line=1\n")
    unsafe = make("unsafe")
    unsafe.write_factors(factor_text(totp_line_(unsafe.secret)), mode=0o644)
    phone = make("phone")
    phone.sent = f"{int.from_bytes(os.urandom(3), 'big') % 10**6:06d}"
    phone.write_factors(factor_text(phone_line("phone-1", "sms"), backup_line(new_backup_code()),
                                    pending_line(phone.sent)))
    hidden = make("hidden")
    subprocess.run(["usermod", "-s", "/usr/sbin/nologin", hidden.name], check=True)
    return made


def totp_line_(secret, id="totp-1"):
    return (f"totp id={id} algorithm=SHA1 digits=6 period=30 secret={secret} label=phone created=1")


def expect_row(row, **values):
    for key, value in values.items():
        assert row[key] == value, (row["user"], key, row[key], value)


# --------------------------------------------------------------------------
# --json, value by value


def test_json_rows_for_every_state(twostep, accounts):
    rows, data = twostep.report()
    a = accounts
    assert a["hidden"].name not in rows, "a nologin shell is no login shell"
    assert "root" in rows and rows["root"]["shell"] == "/bin/bash"
    keys = {"user", "uid", "home", "shell", "store", "store_kind", "enrolled", "record_exists", "problem", "error",
            "methods", "keys", "backup_codes_left", "last_accepted", "failures", "locked_until", "trusted_devices",
            "trusted_devices_valid"}
    for row in rows.values():
        assert set(row) == keys, row

    plain = rows[a["plain"].name]
    expect_row(plain, enrolled="no", record_exists=False, problem=None, error=None, methods={}, keys=0, backup_codes_left=0,
               last_accepted=None, failures=0, locked_until=None, trusted_devices=0, trusted_devices_valid=0,
               store=os.path.join(a["plain"].home, ".twostep"), store_kind="user", uid=a["plain"].uid,
               home=a["plain"].home, shell="/bin/bash")

    expect_row(rows[a["full"].name], enrolled="yes", record_exists=True, problem=None,
               methods={"totp": 2, "sms": 1, "voice": 1}, backup_codes_left=3, last_accepted=None, failures=0,
               locked_until=None, trusted_devices=0, trusted_devices_valid=0)

    locked = rows[a["locked"].name]
    until = records(a["locked"].read_factors(), "failures")[0]["locked-until"]
    expect_row(locked, enrolled="yes", failures=5, locked_until=int(until), backup_codes_left=1,
               methods={"totp": 1})
    # A lock-out that has run out is none; the count stays until the next code.
    expect_row(rows[a["expired_lock"].name], enrolled="yes", failures=5, locked_until=None)

    expect_row(rows[a["trusting"].name], enrolled="yes", trusted_devices=3, trusted_devices_valid=1,
               backup_codes_left=2)
    expect_row(rows[a["nobackup"].name], enrolled="yes", backup_codes_left=0, methods={"totp": 1})
    expect_row(rows[a["empty"].name], enrolled="no", record_exists=True, methods={}, problem=None)
    expect_row(rows[a["phone"].name], enrolled="yes", methods={"sms": 1}, backup_codes_left=1)

    corrupt = rows[a["corrupt"].name]
    expect_row(corrupt, enrolled="unreadable", problem="corrupt", record_exists=None, methods=None, keys=None,
               backup_codes_left=None, last_accepted=None, failures=None, locked_until=None, trusted_devices=None,
               trusted_devices_valid=None)
    assert "line 2" in corrupt["error"] and a["corrupt"].factor_path in corrupt["error"]
    unsafe = rows[a["unsafe"].name]
    expect_row(unsafe, enrolled="unreadable", problem="unsafe", methods=None)
    assert a["unsafe"].factor_path in unsafe["error"]

    summary = data["summary"]
    assert summary["accounts"] == len(rows)
    assert summary["enrolled"] == sum(r["enrolled"] == "yes" for r in rows.values())
    assert summary["locked_out"] == sum(r["locked_until"] is not None for r in rows.values()) >= 1
    assert summary["unreadable"] == sum(r["enrolled"] == "unreadable" for r in rows.values()) >= 2
    assert data["store_template"] == "%h/.twostep"
    assert abs(data["generated"] - time.time()) < 60
    # Reading is all it does: no file changed.
    assert "accepted=" not in a["full"].read_factors()


def test_last_accepted_for_every_kind_of_code(twostep, accounts):
    """A TOTP code, a backup code and a sent code each set the time; a wrong
    code keeps it (and counts); status --json shows the same time."""
    a = accounts
    avoid_step_edge()
    t0 = int(time.time())
    r = twostep.verify(a["full"], totp_code(a["full"].secret))
    assert r.returncode == 0, r.stderr
    r = twostep.verify(a["trusting"], a["trusting"].backups[0])
    assert r.returncode == 0, r.stderr
    r = twostep.verify(a["phone"], a["phone"].sent)
    assert r.returncode == 0, r.stderr
    t1 = int(time.time())
    rows, _ = twostep.report()
    for key in ("full", "trusting", "phone"):
        row = rows[a[key].name]
        assert row["last_accepted"] is not None and t0 <= row["last_accepted"] <= t1, (key, row)
        assert row["failures"] == 0
        field = records(a[key].read_factors(), "failures")[0]["accepted"]
        assert int(field) == row["last_accepted"] and len(field) == 10
    expect_row(rows[a["trusting"].name], backup_codes_left=1)
    expect_row(rows[a["phone"].name], backup_codes_left=1, methods={"sms": 1})
    expect_row(rows[a["nobackup"].name], last_accepted=None)

    accepted = rows[a["full"].name]["last_accepted"]
    r = twostep.verify(a["full"], wrong_code(a["full"].secret))
    assert r.returncode == 1
    rows, _ = twostep.report()
    expect_row(rows[a["full"].name], last_accepted=accepted, failures=1, locked_until=None)
    r = twostep.run("status", "--json", "--user", a["full"].name)
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["last_accepted"] == accepted and status["failures"] == 1

    # The lock-out's end: a right code after it sets the time again.
    r = twostep.verify(a["expired_lock"], totp_code(a["expired_lock"].secret))
    assert r.returncode == 0, r.stderr
    rows, _ = twostep.report()
    expect_row(rows[a["expired_lock"].name], failures=0, locked_until=None)
    assert rows[a["expired_lock"].name]["last_accepted"] >= t0


# --------------------------------------------------------------------------
# The administrator-managed store


def managed_store(tmp_path, users_by_text):
    """A root-owned store (directory 0700, files root's, 0600) holding the
    given users' files. Returns the template."""
    d = tmp_path / "store"
    d.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    for user, text in users_by_text:
        user.write_factors(text, path=str(d / user.name), owner=0)
    return str(d / "%u")


def test_managed_store_from_twostep_conf_and_from_store(users, tmp_path):
    enrolled, plain, corrupt = users.make(), users.make(), users.make()
    enrolled.secret = new_secret()
    # A home file that the managed store must hide.
    plain.write_factors(factor_text(totp_line_(new_secret())))
    template = managed_store(tmp_path, [
        (enrolled, factor_text(totp_line_(enrolled.secret), backup_line(new_backup_code()))),
        (corrupt, "twostep 2\n"),
    ])
    conf = tmp_path / "twostep.conf"
    conf.write_text(f"store={template}\n")
    os.chmod(conf, 0o644)
    twostep = Twostep(config=str(conf))
    store_dir = os.path.dirname(template)

    avoid_step_edge()
    t0 = int(time.time())
    r = twostep.verify(enrolled, totp_code(enrolled.secret))
    assert r.returncode == 0, r.stderr
    rows, data = twostep.report()
    assert data["store_template"] == template
    expect_row(rows[enrolled.name], enrolled="yes", store=os.path.join(store_dir, enrolled.name), store_kind="managed",
               methods={"totp": 1}, backup_codes_left=1, failures=0)
    assert t0 <= rows[enrolled.name]["last_accepted"] <= int(time.time())
    expect_row(rows[plain.name], enrolled="no", record_exists=False, store=os.path.join(store_dir, plain.name),
               store_kind="managed")
    expect_row(rows[corrupt.name], enrolled="unreadable", problem="corrupt")
    assert "unsupported version" in rows[corrupt.name]["error"]

    # --store wins over twostep.conf: here, the home-directory files.
    rows, data = twostep.report("--store", "%h/.twostep")
    assert data["store_template"] == "%h/.twostep"
    expect_row(rows[plain.name], enrolled="yes", store_kind="user", store=plain.factor_path)
    expect_row(rows[enrolled.name], enrolled="no", record_exists=False)


# --------------------------------------------------------------------------
# The text form


def test_text_form_is_an_aligned_table_with_a_summary(twostep, accounts):
    a = accounts
    r = twostep.run("verify", "--user", a["full"].name, "--code", totp_code(a["full"].secret))
    assert r.returncode == 0, r.stderr
    r = twostep.run("report")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.rstrip("\n").split("\n")
    header = lines[0]
    assert header.split()[:2] == ["USER", "ENROLLED"]
    columns = {name: header.index(name) for name in
               ("ENROLLED", "METHODS", "BACKUP CODES", "LAST CODE", "FAILURES", "LOCKED OUT", "TRUSTED DEVICES", "NOTE")}
    by_user = {line.split(" ", 1)[0]: line for line in lines[1:-1]}
    for key, u in a.items():
        if key == "hidden":
            assert u.name not in by_user
        else:
            assert u.name in by_user, key

    def cell(key, column):
        line = by_user[a[key].name]
        return line[columns[column]:].split("  ")[0]

    assert cell("full", "ENROLLED") == "yes"
    assert cell("full", "METHODS") == "totp×2, sms, voice"
    assert cell("full", "BACKUP CODES") == "3"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \(\d+ s ago\)", cell("full", "LAST CODE")), cell("full", "LAST CODE")
    assert cell("full", "LOCKED OUT") == "no"
    assert cell("plain", "ENROLLED") == "no"
    assert cell("locked", "FAILURES") == "5"
    assert re.fullmatch(r"until \d{4}-\d\d-\d\d \d\d:\d\d \(in (2|3) min\)", cell("locked", "LOCKED OUT")), \
        cell("locked", "LOCKED OUT")
    assert cell("nobackup", "BACKUP CODES") == "0" and cell("nobackup", "LAST CODE") == "never"
    assert cell("trusting", "TRUSTED DEVICES") == "3 (1 valid)"
    assert cell("corrupt", "ENROLLED") == "unreadable"
    assert cell("corrupt", "NOTE").startswith("corrupt: ") and "line 2" in by_user[a["corrupt"].name]
    assert cell("unsafe", "NOTE").startswith("unsafe: ")
    assert cell("empty", "NOTE") == "the record holds no method"

    summary = lines[-1]
    m = re.match(r"(\d+) accounts, (\d+) enrolled, (\d+) locked out, (\d+) unreadable \(store %h/\.twostep; ", summary)
    assert m, summary
    assert int(m[1]) == len(lines) - 2 and int(m[3]) >= 1 and int(m[4]) >= 2


# --------------------------------------------------------------------------
# Who may run it


def test_not_root_is_a_usage_error(twostep, users):
    u = users.make()
    for args in (["report"], ["report", "--json"]):
        r = twostep.run(*args, as_user=u.name)
        assert r.returncode == 2, r
        assert "root only" in r.stderr
        assert r.stdout == ""


def test_a_bad_store_template_is_a_usage_error(twostep):
    r = twostep.run("report", "--store", "relative/%u")
    assert r.returncode == 2
    assert "--store" in r.stderr


# --------------------------------------------------------------------------
# Issue 19, item 4: a user who holds their own file's lock


def test_a_user_holding_their_file_lock_does_not_hang_root(twostep, users):
    """`flock -x ~/.twostep` as the user: root's report marks that row busy
    and goes on (text and --json), and `status --user` exits 3 saying so,
    each within the lock's wait (5 s), instead of hanging for ever."""
    holder, other = users.make(), users.make()
    for u in (holder, other):
        u.write_factors(factor_text(totp_line_(new_secret())))
    # -o: only flock holds the lock (not sleep), so killing it ends the lock.
    lock = subprocess.Popen(["flock", "-o", "-x", holder.factor_path, "sleep", "300"], cwd="/",
                            user=holder.uid, group=holder.gid, extra_groups=[])
    try:
        deadline = time.time() + 10
        while subprocess.run(["flock", "-n", "-s", holder.factor_path, "true"]).returncode == 0:
            assert time.time() < deadline, "flock did not take the lock"
            time.sleep(0.05)
        t0 = time.monotonic()
        rows, data = twostep.report()
        assert time.monotonic() - t0 < 15
        assert rows[holder.name]["enrolled"] == "busy" and rows[holder.name]["problem"] == "busy", rows[holder.name]
        assert "busy" in rows[holder.name]["error"]
        assert rows[other.name]["enrolled"] == "yes", rows[other.name]
        assert data["summary"]["busy"] == 1 and data["database_warning"] is None, data["summary"]
        r = twostep.run("report")
        assert r.returncode == 0, r.stderr
        row = next(line for line in r.stdout.splitlines() if line.startswith(holder.name + " "))
        assert row.split()[1] == "busy" and "busy:" in row, row
        assert ", 1 busy (store" in r.stdout.splitlines()[-1], r.stdout
        t0 = time.monotonic()
        r = twostep.run("status", "--user", holder.name)
        assert r.returncode == 3 and "busy" in r.stderr, r
        assert time.monotonic() - t0 < 10
    finally:
        lock.kill()
        lock.wait()
    assert twostep.run("status", "--user", holder.name).returncode == 0
