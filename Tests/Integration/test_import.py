"""`twostep import google-authenticator` on files made by the real
google-authenticator CLI (Debian's libpam-google-authenticator), then logins
through the real pam_twostep.so (pamdriver, a private --confdir stack) with
codes from oathtool and the old scratch codes.

Needs root (users, runuser), google-authenticator, oathtool, cc and libpam0g-dev;
the module from TWOSTEP_MODULE (make module) and the CLI from TWOSTEP_BIN.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

GA_NAME = ".google_authenticator"

# The CLI runner, and the built pamdriver (a shared fixture; the module is conftest's).
from harness import cli  # noqa: E402
from pamtest import pamdriver  # noqa: E402,F401


@pytest.fixture(scope="session")
def google_authenticator():
    path = shutil.which("google-authenticator")
    if not path:
        pytest.skip("google-authenticator is not installed (apt-get install libpam-google-authenticator)")
    return path


@pytest.fixture
def confdir(module, tmp_path):
    d = tmp_path / "pam.d"
    d.mkdir()
    (d / "twostep-import").write_text(f"auth required {module}\naccount required pam_permit.so\n")
    (d / "other").write_text("auth required pam_deny.so\naccount required pam_deny.so\n")
    os.chmod(tmp_path, 0o755)
    return str(d)


class Migration:
    """A test user, their google-authenticator file, and twostep run as them."""

    def __init__(self, user, pamdriver, confdir, ga):
        self.user, self.pamdriver, self.confdir, self.ga = user, pamdriver, confdir, ga

    @property
    def ga_path(self):
        return os.path.join(self.user.home, GA_NAME)

    @property
    def twostep_path(self):
        return os.path.join(self.user.home, ".twostep")

    def setup_ga(self, *flags):
        """Runs the real google-authenticator as the user, non-interactively."""
        p = subprocess.run(["runuser", "-u", self.user.name, "--", self.ga, "-f", "-q", "-C", "-Q", "NONE",
                            "-s", self.ga_path, *flags],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        return GAFile(Path(self.ga_path).read_text())

    def run(self, *args, root=False):
        return cli(*args, user=None if root else self.user, stdin=None)

    def import_ga(self, *extra, root=False):
        return self.run("import", "google-authenticator", *extra, root=root)

    def login(self, code):
        p = subprocess.run([self.pamdriver, "--confdir", self.confdir, "--service", "twostep-import",
                            "--user", self.user.name, "--answer", code],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"^RESULT: (\S+)", p.stdout, re.M)
        return m.group(1) if m else p.stdout + p.stderr

    def snapshot(self, path=None):
        path = path or self.ga_path
        st = os.lstat(path)
        return Path(path).read_bytes(), st.st_mode, st.st_uid, st.st_mtime_ns, st.st_ino


class GAFile:
    def __init__(self, text):
        lines = text.splitlines()
        self.text = text
        self.secret = lines[0]
        self.options = [l[2:] for l in lines[1:] if l.startswith('" ')]
        self.scratch = [l for l in lines[1:] if re.fullmatch(r"\d{8}", l)]

    def option(self, name):
        return next((o for o in self.options if o.split()[0] == name), None)

    @property
    def step(self):
        o = self.option("STEP_SIZE")
        return int(o.split()[1]) if o else 30


def totp(secret, step=30, offset=0):
    return subprocess.run(["oathtool", "--totp", "-s", f"{step}s", "-N", f"now {offset:+d} seconds", "-b", secret],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mig(test_user, pamdriver, confdir, google_authenticator):
    return Migration(test_user, pamdriver, confdir, google_authenticator)


# Configurations of the real google-authenticator CLI.
CONFIGS = {
    "rate-limit+disallow-reuse+window17": ["-t", "-d", "-r", "3", "-R", "30", "-w", "17"],
    "no-rate-limit+reuse+minimal-window": ["-t", "-D", "-u", "-W"],
    "step60+window3+3-codes": ["-t", "-d", "-u", "-S", "60", "-w", "3", "-e", "3"],
    "rate-limit-5-60+step60+window5": ["-t", "-d", "-r", "5", "-R", "60", "-S", "60", "-w", "5"],
}


@pytest.mark.parametrize("flags", CONFIGS.values(), ids=CONFIGS.keys())
def test_import_then_log_in_with_app_code_and_old_scratch_codes(mig, flags):
    ga = mig.setup_ga(*flags)
    before = mig.snapshot()
    r = mig.import_ga()
    assert r.returncode == 0, r.stderr
    out = r.stdout

    # What was carried over, and what was not.
    assert f"Imported {mig.ga_path} into {mig.twostep_path} for {mig.user.name}." in out
    assert "the same key" in out
    assert f"step size       {ga.step} seconds" in out
    assert f"scratch codes   {len(ga.scratch)}, now backup codes" in out
    window = ga.option("WINDOW_SIZE")
    w = int(window.split()[1])
    if w == 3:
        assert "default window=1 accepts the same codes" in out
    else:
        assert f"window={(w - 1) // 2} on the pam_twostep line" in out
    if ga.option("RATE_LIMIT"):
        n, s = ga.option("RATE_LIMIT").split()[1:3]
        assert f"RATE_LIMIT {n} {s}" in out and "max_failures=" in out and "lockout=" in out
    else:
        assert "no RATE_LIMIT" in out
    assert ("DISALLOW_REUSE  twostep always refuses" in out) == bool(ga.option("DISALLOW_REUSE"))
    assert ga.secret not in out + r.stderr
    assert not any(c in out + r.stderr for c in ga.scratch)

    # The original is untouched; the new file is the user's, 0600, hashed codes only.
    assert mig.snapshot() == before
    st = os.stat(mig.twostep_path)
    assert (st.st_uid, st.st_mode & 0o777) == (mig.user.uid, 0o600)
    text = Path(mig.twostep_path).read_text()
    assert f"period={ga.step} " in text and f"secret={ga.secret} " in text
    assert text.count("\nbackup ") == len(ga.scratch)
    assert not any(c in text for c in ga.scratch)

    # The phone app's current code logs in through pam_twostep.so ...
    assert mig.login(totp(ga.secret, ga.step)) == "PAM_SUCCESS"
    # ... and so do the old scratch codes, once each.
    assert mig.login(ga.scratch[0]) == "PAM_SUCCESS"
    assert mig.login(ga.scratch[-1]) == "PAM_SUCCESS"
    assert mig.login(ga.scratch[0]) == "PAM_AUTH_ERR"
    r = mig.run("status", "--json")
    assert r.returncode == 0
    assert f'"backup_codes_left":{len(ga.scratch) - 2}' in r.stdout.replace(" ", "")


def test_no_scratch_codes_gets_new_backup_codes(mig):
    ga = mig.setup_ga("-t", "-d", "-u", "-w", "3", "-e", "0")
    assert ga.scratch == []
    r = mig.import_ga()
    assert r.returncode == 0, r.stderr
    assert "none in the file: 10 new backup codes were made" in r.stdout
    codes = re.findall(r"^  ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})$", r.stdout, re.M)
    assert len(codes) == 10
    assert mig.login(codes[3]) == "PAM_SUCCESS"
    assert mig.login(totp(ga.secret)) == "PAM_SUCCESS"


def test_root_imports_for_a_user_from_another_path(mig):
    ga = mig.setup_ga("-t", "-d", "-u", "-w", "3")
    moved = os.path.join(mig.user.home, "ga-copy")
    shutil.copy2(mig.ga_path, moved)
    os.chown(moved, mig.user.uid, mig.user.gid)
    r = mig.import_ga("--user", mig.user.name, "--file", moved, root=True)
    assert r.returncode == 0, r.stderr
    st = os.stat(mig.twostep_path)
    assert st.st_uid == mig.user.uid
    assert mig.login(totp(ga.secret)) == "PAM_SUCCESS"


def test_hotp_file_is_refused_and_nothing_written(mig):
    mig.setup_ga("-c", "-u", "-w", "3")
    before = mig.snapshot()
    r = mig.import_ga()
    assert r.returncode == 3
    assert "counter-based codes (HOTP)" in r.stderr and "Nothing was written" in r.stderr
    assert not os.path.exists(mig.twostep_path)
    assert mig.snapshot() == before


MALFORMED = {
    "bad-base32": lambda t: "NOT*BASE32!\n" + t.split("\n", 1)[1],
    "short-secret": lambda t: "JBSWY3DP\n" + t.split("\n", 1)[1],
    "empty": lambda t: "",
    "7-digit-scratch-code": lambda t: t + "1234567\n",
    "unknown-option": lambda t: t.replace('" TOTP_AUTH', '" TOTP_AUTH\n" SOMETHING_NEW 1'),
    "duplicate-option": lambda t: t.replace('" TOTP_AUTH', '" TOTP_AUTH\n" WINDOW_SIZE 5'),
    "bad-step-size": lambda t: t.replace('" TOTP_AUTH', '" STEP_SIZE 0\n" TOTP_AUTH'),
    "totp-and-hotp": lambda t: t.replace('" TOTP_AUTH', '" TOTP_AUTH\n" HOTP_COUNTER 4'),
    "garbage-line": lambda t: t + "hello world\n",
    "binary": lambda t: t + "\x00\n",
}


@pytest.mark.parametrize("mangle", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_file_is_refused_and_nothing_written(mig, mangle):
    ga = mig.setup_ga("-t", "-d", "-u", "-w", "3")
    path = Path(mig.ga_path)
    os.chmod(path, 0o600)
    path.write_text(mangle(ga.text))
    before = mig.snapshot()
    r = mig.import_ga()
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout == ""
    assert not os.path.exists(mig.twostep_path)
    assert mig.snapshot() == before
    assert ga.secret not in r.stderr


def test_unsafe_files_are_refused(mig):
    ga = mig.setup_ga("-t", "-d", "-u", "-w", "3")
    path = mig.ga_path

    os.chmod(path, 0o640)  # readable by the group
    r = mig.import_ga()
    assert r.returncode == 3 and "accessible by group or others" in r.stderr
    os.chmod(path, 0o400)

    real = os.path.join(mig.user.home, "real-ga")
    os.rename(path, real)
    os.symlink(real, path)  # a symbolic link
    os.lchown(path, mig.user.uid, mig.user.gid)
    r = mig.import_ga()
    assert r.returncode == 3 and "symbolic link" in r.stderr
    os.unlink(path)

    shutil.copy2(real, path)  # owned by root, not the user (and readable, or it could not be opened)
    os.chmod(path, 0o644)
    r = mig.import_ga("--user", mig.user.name, root=True)
    assert r.returncode == 3 and "not by the user" in r.stderr
    os.chmod(path, 0o600)  # root's own file, which the user's identity cannot open
    r = mig.import_ga("--user", mig.user.name, root=True)
    assert r.returncode == 3 and "Permission denied" in r.stderr

    r = mig.import_ga("--file", os.path.join(mig.user.home, "missing"))
    assert r.returncode == 3 and "does not exist" in r.stderr
    assert not os.path.exists(mig.twostep_path)
    assert ga.secret


def test_existing_twostep_file_needs_force(mig):
    ga = mig.setup_ga("-t", "-d", "-u", "-w", "3")
    assert mig.import_ga().returncode == 0
    first = Path(mig.twostep_path).read_bytes()
    r = mig.import_ga()
    assert r.returncode == 2 and "--force" in r.stderr
    assert Path(mig.twostep_path).read_bytes() == first
    # --force as the user needs a code from the existing file: a scratch code works.
    r = mig.import_ga("--force", "--old-code", "00000000")
    assert r.returncode == 1
    assert Path(mig.twostep_path).read_bytes() != first  # the wrong code was counted
    r = mig.import_ga("--force", "--old-code", ga.scratch[0])
    assert r.returncode == 0, r.stderr
    # Root with --user needs none.
    r = mig.import_ga("--force", "--user", mig.user.name, root=True)
    assert r.returncode == 0, r.stderr
