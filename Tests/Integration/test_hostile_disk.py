"""Issue 7, class 4: a full disk and a read-only file system.

An administrator-managed store (`store=DIR/%u`, DIR root-owned) on a
small tmpfs the test mounts. When the state cannot be written — the
tmpfs is full, or remounted read-only — a login with a correct code is
denied (an accepted code that is not recorded could be replayed; a
backup code that is not crossed out could be used again), the log says
why, and the file is exactly as it was; once there is room again (or the
file system is writable again) the same kind of login succeeds.
README.md "When the disk is full" explains this to administrators.
"""

import errno
import os
import subprocess

import pytest

from hostile import *  # noqa: F401,F403

MOUNT = "/var/lib/twostep-hostile-disk"


@pytest.fixture
def small_fs():
    os.makedirs(MOUNT, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", MOUNT], check=True)
    try:
        yield MOUNT
    finally:
        subprocess.run(["umount", "-l", MOUNT], check=False)
        os.rmdir(MOUNT)


def fill(directory):
    """Fills the file system holding `directory`; returns the filler's path."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)
    # Nothing more fits: not even a small file's first block.
    probe = os.path.join(directory, "probe")
    with pytest.raises(OSError):
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"x" * 1024)
        finally:
            os.close(fd)
    if os.path.exists(probe):
        os.unlink(probe)
    return path


def enroll_admin(users, directory, backup=2):
    u = users.make()
    u.secret = new_secret()
    u.codes = [new_backup_code() for _ in range(backup)]
    u.store = os.path.join(directory, u.name)
    u.write_factors(factor_text(totp_line(u.secret), *[backup_line(c, id=f"backup-{i + 1}") for i, c in enumerate(u.codes)]),
                    path=u.store, owner=0)
    return u


def assert_denied_for_storage(r):
    assert r.result == "PAM_AUTH_ERR", r
    assert UNAVAILABLE in r.errors, r
    assert any("cannot record the verification" in m for m in r.syslog), r.syslog


def test_full_disk_denies_and_loses_nothing(pam, users, small_fs):
    u = enroll_admin(users, small_fs)
    pam.service("svc", f"store={small_fs}/%u")
    before = Snapshot(u.store)
    filler = fill(small_fs)
    for answer in [fresh_code(u.secret, open(u.store).read()), u.codes[0]]:
        r = pam.run("svc", u, [answer], wrapper=True)
        assert_denied_for_storage(r)
        assert any("space" in m.lower() or "ENOSPC" in m or "28" in m for m in r.syslog), r.syslog
    assert before.changes(before.again()) == [], "the file changed on a full disk"
    assert temp_files(small_fs, u.name) == [], "a temp file was left on the full disk"
    # Room again: the same backup code works (it was not spent), and a TOTP code.
    os.unlink(filler)
    r = pam.run("svc", u, [u.codes[0]])
    assert r.result == "PAM_SUCCESS", r
    r = pam.run("svc", u, [fresh_code(u.secret, open(u.store).read())])
    assert r.result == "PAM_SUCCESS", r
    assert len(records(open(u.store).read(), "backup")) == 1


def test_full_disk_still_records_state_in_place(pam, users, small_fs):
    """Once the file is in the writer's form (after any login), a new TOTP
    step or failure count is written over the old digits (twostep-factors(5)):
    that needs no free space, so on a full disk a TOTP login still succeeds
    with its step recorded, and a wrong code is still counted, in the same
    file. A backup code (the file shrinks: replaced) is still refused."""
    u = enroll_admin(users, small_fs)
    pam.service("svc", f"store={small_fs}/%u")
    r = pam.run("svc", u, [fresh_code(u.secret, open(u.store).read())])
    assert r.result == "PAM_SUCCESS", r
    inode, size = os.stat(u.store).st_ino, os.stat(u.store).st_size
    filler = fill(small_fs)
    r = pam.run("svc", u, [wrong_code(u.secret)], wrapper=True)
    assert r.result == "PAM_AUTH_ERR" and UNAVAILABLE not in r.errors, r
    assert failure_count(open(u.store).read()) == 1
    text = open(u.store).read()
    code = fresh_code(u.secret, text)
    r = pam.run("svc", u, [code], wrapper=True)
    assert r.result == "PAM_SUCCESS", r
    text = open(u.store).read()
    assert failure_count(text) == 0
    r = pam.run("svc", u, [code], wrapper=True)
    assert r.result == "PAM_AUTH_ERR", "the step was recorded: the same code is a replay"
    assert (os.stat(u.store).st_ino, os.stat(u.store).st_size) == (inode, size)
    r = pam.run("svc", u, [u.codes[0]], wrapper=True)
    assert_denied_for_storage(r)
    assert len(records(open(u.store).read(), "backup")) == 2
    assert temp_files(small_fs, u.name) == []
    os.unlink(filler)


def test_read_only_fs_denies_and_loses_nothing(pam, users, small_fs):
    u = enroll_admin(users, small_fs)
    pam.service("svc", f"store={small_fs}/%u")
    before = Snapshot(u.store)
    subprocess.run(["mount", "-o", "remount,ro", small_fs], check=True)
    try:
        for answer in [fresh_code(u.secret, open(u.store).read()), u.codes[1], "000000"]:
            r = pam.run("svc", u, [answer], wrapper=True)
            assert_denied_for_storage(r)
            assert any("read-only" in m.lower() or "EROFS" in m or "30" in m for m in r.syslog), r.syslog
    finally:
        subprocess.run(["mount", "-o", "remount,rw", small_fs], check=True)
    assert before.changes(before.again()) == [], "the file changed"
    r = pam.run("svc", u, [u.codes[1]])
    assert r.result == "PAM_SUCCESS", r


def test_full_disk_cli_fails_cleanly(users, small_fs):
    """`twostep codes` on a full disk: exit 3, the old codes still there."""
    u = enroll_admin(users, small_fs)
    before = Snapshot(u.store)
    fill(small_fs)
    p = cli("codes", "--user", u.name, "--store", f"{small_fs}/%u", "--json", env=NO_SWIFT_BACKTRACE)
    assert p.returncode == 3, p
    assert p.stdout == "", "no codes may be shown that were not stored"
    assert before.changes(before.again()) == []
