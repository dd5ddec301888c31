"""The basics every integration test shares, defined once: where the
binaries are, throw-away users, the `twostep` CLI runner, a free port, the
current time step and a wrong code. pamtest.py, fleet.py, hostile.py,
conftest.py and the tests import them from here (HARNESS.md).

  REPO, HERE                this checkout, and Tests/Integration
  binary(product)           path of twostep, twostepd or the module
  require_root()            skips a test that is not run as root
  User, Users               a local account; a factory of them (the `users` fixture)
  cli(*args, ...)           runs `twostep` as root or as a user, returns the CompletedProcess
  cli_argv(*args, user=)    the argv cli() runs (for Popen callers)
  free_port()               a TCP port on 127.0.0.1 that is free now
  current_step(period)      the TOTP time step of now
  wrong_code(secret, window)  a six-digit code no step near now gives
"""

import os
import pwd
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# product: (environment variable, this checkout's build output, how to build it).
# The Makefile's integration-test sets the variables; without them a test
# uses what this checkout built, never a path elsewhere on the machine.
BINARIES = {
    "twostep": ("TWOSTEP_BIN", ".build/debug/twostep", "swift build --product twostep"),
    "twostepd": ("TWOSTEP_DAEMON", ".build/debug/twostepd", "swift build --product twostepd"),
    "twostepd-test": ("TWOSTEP_DAEMON_TEST", ".build/debug/twostepd-test", "swift build --product twostepd-test"),
    "module": ("TWOSTEP_MODULE", ".build-module/release/libpam_twostep.so", "make module"),
}


def binary(product):
    """The absolute path of `product` (twostep, twostepd, twostepd-test or module): its
    environment variable, else this checkout's build output. A missing one
    fails the test, naming the command that builds it."""
    variable, default, build = BINARIES[product]
    path = os.path.abspath(os.environ.get(variable) or REPO / default)
    if product == "module":
        path = os.path.realpath(path)  # the stack lines name the file itself
    wanted = os.R_OK if product == "module" else os.X_OK
    if not (os.path.isfile(path) and os.access(path, wanted)):
        pytest.fail(f"no {product} at {path}: build it ({build}) or set {variable}")
    return path


def require_root():
    if os.geteuid() != 0:
        pytest.skip("these tests need root (users, setfsuid, /etc/pam.d)")


# --------------------------------------------------------------------------
# Users


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: str
    password: str | None = None

    @property
    def factor_path(self):
        return os.path.join(self.home, ".twostep")

    def write_factors(self, text, path=None, mode=0o600, owner=None):
        """Writes a factor file (default ~/.twostep) owned by `owner`
        (default this user; a uid or a User) with `mode`."""
        path = path or self.factor_path
        uid = self.uid if owner is None else getattr(owner, "uid", owner)
        gid = self.gid if owner is None else getattr(owner, "gid", 0)
        if os.path.lexists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return path

    def read_factors(self, path=None):
        with open(path or self.factor_path) as f:
            return f.read()


class Users:
    """Makes `tsmod-XXXXXXXX` accounts (login shell /bin/bash) and removes
    them, with their homes, at cleanup."""

    def __init__(self):
        self.made = []

    def make(self, password=None, home=True):
        """A new account: a home directory (useradd -m) unless `home` is
        false, a password (chpasswd) when one is given."""
        name = "tsmod-" + secrets.token_hex(4)
        args = ["useradd", "-s", "/bin/bash"] + (["-m"] if home else ["-M", "-d", f"/nonexistent-{name}"])
        subprocess.run(args + [name], check=True)
        self.made.append(name)
        if password is not None:
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        pw = pwd.getpwnam(name)
        return User(name, pw.pw_uid, pw.pw_gid, pw.pw_dir, password)

    def cleanup(self):
        for name in self.made:
            subprocess.run(["userdel", "-r", "-f", name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# The CLI


def cli_argv(*args, user=None, binary_path=None):
    """argv for `twostep ARGS`: as root (`--user NAME` is the caller's to
    add), or as `user` (a User or an account name) through setpriv, with
    the account's real uid, gid and groups."""
    twostep = binary_path or binary("twostep")
    if user is None:
        return [twostep, *args]
    pw = pwd.getpwnam(getattr(user, "name", user))
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--", twostep, *args]


def cli_env(user=None, env=None, config=None):
    """The environment cli() gives: this process's, plus `env` (variables
    to add or override), TWOSTEP_CONFIG=`config` when given, and for a run
    as `user` that account's HOME, USER, LOGNAME and SHELL."""
    e = dict(os.environ)
    e.update(env or {})
    if config is not None:
        e["TWOSTEP_CONFIG"] = str(config)
    if user is not None:
        pw = pwd.getpwnam(getattr(user, "name", user))
        e.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name, SHELL=pw.pw_shell)
    return e


def cli(*args, user=None, stdin="", env=None, config=None, expect=None, timeout=60, text=True, prefix=(),
        binary_path=None):
    """Runs `twostep ARGS` (in "/", output captured) and returns the
    CompletedProcess.

    user     None: as root; else a User or an account name to run as (cli_argv)
    stdin    what to type (str; encoded with text=False); None: /dev/null
    env      variables to add to this process's environment (cli_env)
    config   TWOSTEP_CONFIG for this run
    expect   an exit code the run must end with (asserted, with its output)
    text     False: stdout and stderr as bytes
    prefix   a command line that runs it (e.g. a mount namespace)
    """
    argv = [*prefix, *cli_argv(*args, user=user, binary_path=binary_path)]
    if isinstance(stdin, str) and not text:
        stdin = stdin.encode()
    stdin_args = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
    r = subprocess.run(argv, capture_output=True, text=text, cwd="/", timeout=timeout,
                       env=cli_env(user, env, config), **stdin_args)
    if expect is not None:
        assert r.returncode == expect, f"$ {' '.join(argv)}\n[rc {r.returncode}, expected {expect}]\n{r.stdout}{r.stderr}"
    return r


# --------------------------------------------------------------------------
# Ports, time steps, codes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current_step(period=30):
    return int(time.time()) // period


def wrong_code(secret, window=1, period=30, digits=6):
    """A well-formed code that no time step within `window` + 2 of now gives
    (so it stays wrong for a verifier with that window, whatever step the
    check lands in): for the defaults (window=1), none of the codes within
    +-3 steps; fleet tests, whose hosts run window=10, pass window=10."""
    import pyotp
    totp = pyotp.TOTP(secret, digits=digits, interval=period)
    now = current_step(period)
    near = {totp.at((now + k) * period) for k in range(-window - 2, window + 3)}
    while True:
        c = f"{secrets.randbelow(10 ** digits):0{digits}d}"
        if c not in near:
            return c
