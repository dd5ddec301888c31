"""Issue 7, class 5: tampered and hostile factor files and home directories.

Every case: the user's ~/.twostep (or home) is made hostile, then the user
logs in through the real module with the *right* code, with and without
`nullok`. The verdict must be a denial — never PAM_SUCCESS, never
PAM_IGNORE — except the one case nullok exists for: a home directory that
is there and holds no file (ENOENT). After each attempt nothing new owned
by root appears in the home directory, no link target changes, and no
temporary file is left (the module never writes through a link or as root
into a user's directory: CVE-2024-47191, pam_u2f CVE-2019-12209).
"""

import os
import shutil

import pytest

from hostile import *  # noqa: F401,F403

OUTSIDE = "/var/tmp/twostep-hostile"


@pytest.fixture
def outside():
    """A root-owned directory outside the home, for link targets."""
    shutil.rmtree(OUTSIDE, ignore_errors=True)
    os.makedirs(OUTSIDE, mode=0o755)
    yield OUTSIDE
    shutil.rmtree(OUTSIDE, ignore_errors=True)


def valid_text(u):
    return u.read_factors()


def make_symlink_to_users_copy(u, outside):
    # A copy the user owns, elsewhere in the home; the name is a link to it.
    target = os.path.join(u.home, "real-factors")
    u.write_factors(valid_text(u), path=target)
    os.unlink(u.factor_path)
    os.symlink(target, u.factor_path)
    os.lchown(u.factor_path, u.uid, u.gid)
    return [target]


def make_symlink_to_root_file(u, outside):
    target = os.path.join(outside, "shadow-like")
    u.write_factors(valid_text(u), path=target, owner=0)
    os.unlink(u.factor_path)
    os.symlink(target, u.factor_path)
    os.lchown(u.factor_path, u.uid, u.gid)
    return [target]


def make_dangling_symlink(u, outside):
    os.unlink(u.factor_path)
    target = os.path.join(outside, "does-not-exist")
    os.symlink(target, u.factor_path)
    os.lchown(u.factor_path, u.uid, u.gid)
    return []


def make_symlink_to_etc_passwd(u, outside):
    os.unlink(u.factor_path)
    os.symlink("/etc/passwd", u.factor_path)
    os.lchown(u.factor_path, u.uid, u.gid)
    return ["/etc/passwd"]


def make_hardlink(u, outside):
    second = os.path.join(u.home, "second-name")
    os.link(u.factor_path, second)
    return [second]


def make_hardlink_into_root_dir(u, outside):
    # The user's file also has a name in a root-owned directory.
    second = os.path.join(outside, "link")
    os.link(u.factor_path, second)
    return [second]


def make_fifo(u, outside):
    os.unlink(u.factor_path)
    os.mkfifo(u.factor_path, 0o600)
    os.chown(u.factor_path, u.uid, u.gid)
    return []


def make_socket(u, outside):
    import socket
    os.unlink(u.factor_path)
    s = socket.socket(socket.AF_UNIX)
    s.bind(u.factor_path)
    s.close()
    os.chown(u.factor_path, u.uid, u.gid)
    os.chmod(u.factor_path, 0o600)
    return []


def make_directory(u, outside):
    os.unlink(u.factor_path)
    os.mkdir(u.factor_path, 0o700)
    os.chown(u.factor_path, u.uid, u.gid)
    return []


def owner(uid_of):
    def make(u, outside):
        os.chown(u.factor_path, uid_of(u), -1)
        return []
    return make


def mode(bits):
    def make(u, outside):
        os.chmod(u.factor_path, bits)
        return []
    return make


def make_huge(u, outside):
    # A valid file padded with comment lines to 10 MB.
    text = valid_text(u) + ("#" + "x" * 1023 + "\n") * (10 * 1024)
    u.write_factors(text)
    return []


def truncated(where):
    def make(u, outside):
        text = valid_text(u)
        cut = {"version": text.index("twostep 1") + 5,
               "keyword": text.index("totp ") + 2,
               "secret": text.index("secret=") + 12,
               "hash": text.index("hash=") + 20,
               "empty": 0}[where]
        u.write_factors(text[:cut])
        return []
    return make


def garbage(content):
    def make(u, outside):
        u.write_factors(content(u))
        return []
    return make


CASES = {
    "symlink-to-users-copy": make_symlink_to_users_copy,
    "symlink-to-root-file": make_symlink_to_root_file,
    "symlink-dangling": make_dangling_symlink,
    "symlink-to-etc-passwd": make_symlink_to_etc_passwd,
    "hardlink": make_hardlink,
    "hardlink-into-root-dir": make_hardlink_into_root_dir,
    "fifo": make_fifo,
    "socket": make_socket,
    "directory": make_directory,
    "owner-root": owner(lambda u: 0),
    "owner-nobody": owner(lambda u: 65534),
    "mode-0640": mode(0o640),
    "mode-0604": mode(0o604),
    "mode-0660": mode(0o660),
    "mode-0602": mode(0o602),
    "mode-0000": mode(0o000),
    "size-10MB": make_huge,
    "truncated-empty": truncated("empty"),
    "truncated-version": truncated("version"),
    "truncated-keyword": truncated("keyword"),
    "truncated-secret": truncated("secret"),
    "truncated-hash": truncated("hash"),
    "garbage-random": garbage(lambda u: os.urandom(4096)),
    "garbage-nul": garbage(lambda u: b"\0" * 512),
    "garbage-after-header": garbage(lambda u: b"twostep 1\n" + os.urandom(2048)),
    "garbage-nul-in-line": garbage(lambda u: valid_text(u).replace("label=", "label=\0").encode()),
    "garbage-not-utf8": garbage(lambda u: valid_text(u).encode() + b"# \xff\xfe\n"),
    "garbage-elf": garbage(lambda u: open("/bin/true", "rb").read()),
}


def attempt(pam, u, options):
    """Logs in with the right code (a fresh one, a backup code); returns
    the verdicts (PROBE stack)."""
    pam.probe("probe", options)
    verdicts = []
    for answer in [totp_code(u.secret), u.codes[0]]:
        r = pam.run("probe", u, [answer], timeout=15)
        verdicts.append(r.verdict)
        assert "PAM_SUCCESS" != r.verdict and "PAM_IGNORE" != r.verdict, r
    return verdicts


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_denied(pam, users, outside, case):
    u = enroll(users, backup=2)
    targets = CASES[case](u, outside)
    before = Snapshot(u.home, outside, *[t for t in targets if not t.startswith((u.home, outside))])
    for options in ["", "nullok", "nullok debug"]:
        verdicts = attempt(pam, u, options)
        assert set(verdicts) <= {"PAM_AUTH_ERR", "PAM_MAXTRIES", "PAM_SERVICE_ERR", "PAM_AUTHINFO_UNAVAIL"}, verdicts
    after = before.again()
    assert before.new_root_owned(after) == [], "the module created root-owned files"
    assert before.changes(after) == [], f"{case}: the module changed files: {before.changes(after)}"
    assert temp_files(u.home) == []


def test_hostile_file_is_not_rewritten_by_cli(users, outside):
    """The CLI refuses the same files (exit 3) and leaves them as they are."""
    for case in ["symlink-to-root-file", "hardlink", "mode-0640", "owner-nobody", "garbage-random", "size-10MB"]:
        u = enroll(users, backup=1)
        targets = CASES[case](u, outside)
        before = Snapshot(u.home, outside)
        for args in [["status"], ["codes", "--code", totp_code(u.secret)], ["verify", "--code", u.codes[0]]]:
            p = cli(*args, user=u, env=NO_SWIFT_BACKTRACE)
            assert p.returncode == 3, (case, args, p.stdout, p.stderr)
        p = cli("codes", "--user", u.name, env=NO_SWIFT_BACKTRACE)
        assert p.returncode == 3, (case, "root --user", p.stdout, p.stderr)
        after = before.again()
        assert before.changes(after) == [], (case, before.changes(after))


# --------------------------------------------------------------------------
# Home directories


def test_missing_home_with_nullok_denied(pam, users):
    u = users.make(home=False)
    assert not os.path.exists(u.home)
    pam.probe("probe", "nullok")
    r = pam.run("probe", u, ["123456"])
    assert r.verdict == "PAM_AUTH_ERR", r


def test_unmounted_home_with_nullok_denied(pam, users):
    """A home that is not mounted: the mount point is an empty directory
    owned by root (what /home/NAME looks like before an NFS, autofs or
    encrypted home is mounted on it). The factor file's absence there
    proves nothing: deny, do not let through."""
    u = users.make()
    shutil.rmtree(u.home)
    os.mkdir(u.home, 0o755)  # root-owned, like a mount point
    pam.probe("probe", "nullok")
    r = pam.run("probe", u, ["123456"])
    assert r.verdict == "PAM_AUTH_ERR", r
    assert os.listdir(u.home) == [], "the module wrote into the mount point"


def test_nullok_home_present_without_file_is_ignore(pam, users):
    """The one case nullok is for (ENOENT in the user's own home)."""
    u = users.make()
    pam.probe("probe", "nullok")
    assert pam.run("probe", u).verdict == "PAM_IGNORE"
    pam.probe("strict")
    assert pam.run("strict", u).verdict == "PAM_AUTH_ERR"


@pytest.mark.parametrize("case", ["home-symlink", "home-world-writable", "home-owned-by-other"])
def test_hostile_home_denied(pam, users, outside, case):
    u = enroll(users, backup=1)
    other = users.make()
    if case == "home-symlink":
        # The home is a link to another user's directory holding a valid file.
        real = other.home
        other.write_factors(u.read_factors())
        shutil.rmtree(u.home)
        os.symlink(real, u.home)
    elif case == "home-world-writable":
        os.chmod(u.home, 0o777)
    else:
        os.chown(u.home, other.uid, other.gid)
        os.chown(u.factor_path, other.uid, other.gid)
    before = Snapshot(u.home, other.home, outside)
    for options in ["", "nullok"]:
        verdicts = attempt(pam, u, options)
        assert set(verdicts) <= {"PAM_AUTH_ERR", "PAM_SERVICE_ERR"}, (case, verdicts)
    after = before.again()
    assert before.new_root_owned(after) == []
    assert before.changes(after) == [], (case, before.changes(after))
