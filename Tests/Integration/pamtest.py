"""Shared helpers and fixtures for the pam_twostep.so integration tests
(test_module.py, test_module_binary.py, test_sshd.py and most others).

Import with `from pamtest import *` (pytest puts this directory on sys.path
because it has no __init__.py) and list the fixtures a test needs. It
re-exports harness.py (binaries, User/Users, cli, free_port, current_step,
wrong_code); conftest.py's fixtures (module, users, twostep_bin, ...) need
no import.

Fixtures
  pamdriver    path of Tests/Integration/pamdriver.c, compiled once per session
  pam          a private --confdir directory: pam.service(NAME, OPTIONS) writes
               a one-module stack, pam.stack(NAME, TEXT) any stack, pam.run(...)
               runs pamdriver and returns a Run
  race_shim    an LD_PRELOAD library that renames a file over another at fstat
  ssh_user     a user (password PASSWORD) with a TOTP authenticator, for ssh
               logins through ssh_login.py (SSH_LOGIN); SSHLogin reads a run

Helpers: totp_line/backup_line/trust_line/failures_line + factor_text build a
factor file in the v1 text format (twostep-factors(5)); User.write_factors
writes it with the right owner and mode; totp_code (oathtool) and
totp_code_pyotp (an independent generator) make codes; fresh_code picks a
code for a time step later than the file's last-step, so tests can log in
several times in a row without tripping the replay check.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest

from harness import *  # noqa: F401,F403  (re-exported: the shared basics)
from harness import HERE, current_step, require_root

PAMWRAPPER_LIB = "libpam_wrapper.so"

BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"

# The marker line of PROBE stacks (see PAM.probe).
IGNORE_MARKER = "probe: twostep returned PAM_IGNORE"


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def pamdriver(tmp_path_factory):
    require_root()
    out = tmp_path_factory.mktemp("pamdriver") / "pamdriver"
    subprocess.run(["cc", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-o", str(out),
                    str(HERE / "pamdriver.c"), "-lpam", "-lpthread"], check=True)
    os.chmod(out.parent, 0o755)
    return str(out)


@dataclass(repr=False)
class Run:
    """One pamdriver run: rc, the parsed lines, stderr, wall time."""
    args: list
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    lines: list = field(default_factory=list)

    @property
    def results(self):
        return [t for k, t in self.lines if k == "RESULT"]

    @property
    def result(self):
        r = self.results
        assert len(r) == 1, f"expected one RESULT line:\n{self}"
        return r[0]

    def texts(self, *kinds):
        return [t for k, t in self.lines if k in kinds]

    @property
    def prompts(self):
        return self.texts("PROMPT_ECHO_OFF", "PROMPT_ECHO_ON")

    @property
    def infos(self):
        return self.texts("INFO")

    @property
    def errors(self):
        return self.texts("ERROR")

    @property
    def verdict(self):
        """What the module returned, for PROBE stacks (PAM.probe):
        PAM_IGNORE when the marker module ran, else the stack's result."""
        if self.result == "PAM_SUCCESS" and IGNORE_MARKER in self.infos:
            return "PAM_IGNORE"
        return self.result

    @property
    def syslog(self):
        """Messages the module gave pam_syslog (runs with wrapper=True)."""
        return [m.group(1) for m in re.finditer(r"SYSLOG\(\d+\): (.*)", self.stderr)]

    def transcript(self, drop_delay_value=True):
        """The conversation as comparable lines (FAIL_DELAY values, which
        libpam randomises, replaced by 'N')."""
        out = []
        for k, t in self.lines:
            if k == "FAIL_DELAY" and drop_delay_value:
                t = "N"
            out.append(f"{k}: {t}")
        return out

    def __repr__(self):
        return "\n" + str(self)

    def __str__(self):
        return (f"$ {' '.join(self.args)}\n[rc {self.rc}, {self.elapsed:.2f}s]\n{self.stdout}"
                + (f"[stderr]\n{self.stderr[-4000:]}" if self.stderr else ""))


def parse_lines(stdout):
    lines = []
    for line in stdout.splitlines():
        kind, sep, text = line.partition(": ")
        if not sep and line.endswith(":"):
            kind, text = line[:-1], ""
        lines.append((kind, text))
    return lines


class PAM:
    """A --confdir directory with service files, and pamdriver runs on it."""

    def __init__(self, module, pamdriver, directory):
        self.module = module
        self.pamdriver = pamdriver
        self.dir = str(directory)
        # Root's send tallies (SPEC §5, send_count_dir=), one directory per
        # test: they count per number across accounts, and the tests share
        # numbers. Every module line of service() and probe() names it.
        self.sends = os.path.join(os.path.dirname(self.dir), "sends")
        # pam_wrapper warns on every pam_start without an "other" file.
        self.stack("other", "auth required pam_deny.so\naccount required pam_deny.so\n"
                            "password required pam_deny.so\nsession required pam_deny.so\n")

    def stack(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)
        return name

    def service(self, name, options="", control="required"):
        """`auth CONTROL /abs/libpam_twostep.so OPTIONS` (account permit)."""
        return self.stack(name, f"auth {control} {self.module} {self.with_sends(options)}\naccount required pam_permit.so\n")

    def with_sends(self, options):
        """OPTIONS with this test's send_count_dir= unless they name one."""
        return options if "send_count_dir=" in options else f"{options} send_count_dir={self.sends}".strip()

    def confirm_phone(self, user, number):
        """Root's record that `number` was confirmed for `user` (what
        `twostep add phone` as root or through twostepd writes): without it
        the module sends nothing to a phone in a store the user owns."""
        write_tally(self.sends, f"user.{getattr(user, 'name', user)}",
                    f"confirmed number={number} time={int(time.time())}\n")

    def probe(self, name, options=""):
        """A stack whose outcome tells PAM_SUCCESS, PAM_IGNORE and a denial apart.

        libpam does not report PAM_IGNORE as such: a stack whose only module
        returns it fails with PAM_PERM_DENIED (libpam's "no module decided"
        code), and `optional`/`sufficient` lines hide it behind the next
        module's result. So: success ends the stack at once (done); a denial
        ends it with the module's own code (die); PAM_IGNORE falls through to
        pam_echo, which prints IGNORE_MARKER as an INFO message (and itself
        returns PAM_IGNORE), then pam_permit succeeds. Run.verdict reads it
        back: PAM_SUCCESS without the marker is the module's PAM_SUCCESS,
        PAM_SUCCESS with it is the module's PAM_IGNORE.
        """
        return self.stack(name,
                          f"auth [success=done ignore=ignore default=die] {self.module} {self.with_sends(options)}\n"
                          f"auth requisite pam_echo.so {IGNORE_MARKER}\n"
                          f"auth required pam_permit.so\n"
                          f"account required pam_permit.so\n")

    def run(self, service, user, answers=(), rhost=None, env=(), no_delay=True,
            extra=(), wrapper=False, timeout=60, expect=None, environ=None, prefix=()):
        """One pamdriver run; `prefix`: a command line that runs it (e.g. in
        a mount namespace)."""
        args = [*prefix, self.pamdriver, "--service", service]
        if user is not None:
            args += ["--user", getattr(user, "name", user)]
        if rhost:
            args += ["--rhost", rhost]
        for e in env:
            args += ["--env", e]
        for a in answers:
            args += ["--answer", a]
        if no_delay:
            args.append("--no-delay")
        if expect:
            args += ["--expect", expect]
        args += list(extra)
        extra_env = environ or {}
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("PAM_WRAPPER", "LD_PRELOAD"))}
        environ.update(extra_env)
        if wrapper:
            environ.update(LD_PRELOAD=PAMWRAPPER_LIB, PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=self.dir,
                           PAM_WRAPPER_DEBUGLEVEL="3")
        else:
            args += ["--confdir", self.dir]
        t0 = time.monotonic()
        p = subprocess.run(args, capture_output=True, text=True, env=environ, timeout=timeout)
        run = Run(args, p.returncode, p.stdout, p.stderr, time.monotonic() - t0, parse_lines(p.stdout))
        return run


@pytest.fixture
def pam(module, pamdriver, tmp_path):
    d = tmp_path / "pam.d"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    return PAM(module, pamdriver, d)


# An LD_PRELOAD shim that makes a race happen on purpose: when the process
# fstat()s an open file whose path is $RACE_TARGET (after skipping
# $RACE_SKIP such calls), it first renames $RACE_REPLACEMENT over that
# path - what a concurrent login or `twostep` command does when it
# replaces the file between someone's open() and fstat().
RACE_FSTAT_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int seen;
int fstat(int fd, struct stat *st) {
    static int (*real)(int, struct stat *);
    if (!real) real = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
    const char *target = getenv("RACE_TARGET"), *repl = getenv("RACE_REPLACEMENT");
    const char *skip = getenv("RACE_SKIP");
    if (target && repl) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = 0;
            if (strcmp(path, target) == 0 && seen++ == (skip ? atoi(skip) : 0)) {
                if (rename(repl, target) != 0) perror("race: rename");
                else fprintf(stderr, "race: replaced %s\n", target);
            }
        }
    }
    return real(fd, st);
}
"""


@pytest.fixture(scope="session")
def race_shim(tmp_path_factory):
    require_root()
    d = tmp_path_factory.mktemp("race")
    src = d / "race_fstat.c"
    src.write_text(RACE_FSTAT_C)
    out = d / "race_fstat.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(out), str(src), "-ldl"], check=True)
    os.chmod(d, 0o755)
    return str(out)


# --------------------------------------------------------------------------
# Factor files (v1 text format, twostep-factors(5))


def write_tally(directory, name, lines):
    """Adds LINES to the send tally NAME (`user.NAME` or `number.+E164`,
    twostep-factors(5)) in root's send_count_dir DIRECTORY, made as twostep
    makes them (root, 0700 directory, 0600 files)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, name)
    try:
        old = open(path).read()
    except FileNotFoundError:
        old = "twostep-sends 1\n"
    with open(path, "w") as f:
        f.write(old + lines)
    os.chmod(path, 0o600)
    return path


def read_tally(directory, name):
    """The send times in tally NAME ([] when there is none)."""
    try:
        text = open(os.path.join(directory, name)).read()
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        if line.startswith("sends times="):
            return [int(t) for t in line[len("sends times="):].split(",")]
    return []


def new_secret(nbytes=20):
    return base64.b32encode(os.urandom(nbytes)).decode().rstrip("=")


def totp_line(secret, id="totp-1", algorithm="SHA1", digits=6, period=30, label="phone",
              created=1, last_step=None):
    line = (f"totp id={id} algorithm={algorithm} digits={digits} period={period} "
            f"secret={secret} label={label} created={created}")
    return line + (f" last-step={last_step}" if last_step is not None else "")


def new_backup_code():
    return "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(10))


def backup_line(code, id="backup-1", created=1):
    """The stored form of backup code `code` (10 characters, dashes allowed)."""
    salt = os.urandom(16)
    clean = code.replace("-", "").lower()
    digest = hmac.new(salt, clean.encode(), hashlib.sha256).hexdigest()
    return f"backup id={id} salt={salt.hex()} hash={digest} created={created}"


def trust_line(id="trust-1", service="svc", rhost=None, key=None, created=None, expires=None):
    now = int(time.time())
    created = now if created is None else created
    expires = created + 30 * 86400 if expires is None else expires
    line = f"trust id={id} service={service}"
    if rhost:
        line += f" rhost={rhost}"
    if key:
        line += f" key={key}"
    return line + f" created={created} expires={expires}"


def sshkey_line(key, id="key-1", label="yubikey", created=1, last_used=None):
    """An enrolled security key (SPEC §11): `key` is a securitykeys.Key
    (its `type` and `base64`; the file holds the blob without `=` padding)."""
    line = f"sshkey id={id} type={key.type} key={key.base64.rstrip('=')} label={label} created={created}"
    return line + (f" last-used={last_used}" if last_used is not None else "")


def failures_line(count, locked_until=None, last=None):
    line = f"failures count={count}"
    if locked_until is not None:
        line += f" locked-until={locked_until}"
    if last is not None:
        line += f" last={last}"
    return line


def factor_text(*lines):
    return "twostep 1\n" + "".join(l + "\n" for l in lines)


def parse_records(text):
    """The file's records as (keyword, {key: value}) pairs."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("twostep "):
            continue
        kw, *fields = line.split(" ")
        out.append((kw, dict(f.split("=", 1) for f in fields)))
    return out


def records(text, keyword):
    return [f for kw, f in parse_records(text) if kw == keyword]


def failure_count(text):
    """The `failures` line's count as a number (0 when there is no line).
    twostep writes the line always, zero-padded to a fixed width."""
    lines = records(text, "failures")
    return int(lines[0]["count"]) if lines else 0


def locked_until(text):
    """The `failures` line's locked-until as a number (0: no lock-out)."""
    lines = records(text, "failures")
    return int(lines[0].get("locked-until", "0")) if lines else 0


# --------------------------------------------------------------------------
# Codes


def totp_code(secret, at=None, period=30, digits=6, algorithm="SHA1"):
    """The TOTP code for time `at` (default now), made by oathtool."""
    args = ["oathtool", "--totp" + ("" if algorithm == "SHA1" else "=" + algorithm.lower()),
            "-b", "-d", str(digits), "-s", f"{period}s"]
    if at is not None:
        args += ["-N", f"@{int(at)}"]
    return subprocess.run(args + [secret], capture_output=True, text=True, check=True).stdout.strip()


def totp_code_pyotp(secret, at, period=30, digits=6):
    import pyotp
    return pyotp.TOTP(secret, digits=digits, interval=period).at(int(at))


def avoid_step_edge(margin=3, period=30):
    """Sleeps into the next time step when fewer than `margin` seconds are
    left in this one, so a code made now is checked in the same step."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.05)


def fresh_code(secret, text, totp_id="totp-1", period=30, window=1):
    """A code the module will accept: the current step, or the next one
    (within the default window) when the current step was already used."""
    avoid_step_edge(period=period)
    last = [int(f["last-step"]) for f in records(text, "totp") if f["id"] == totp_id and "last-step" in f]
    step = current_step(period)
    if last and step <= last[0]:
        step = last[0] + 1
    assert step <= current_step(period) + window, "no unused time step within the window: wait"
    return totp_code(secret, at=step * period, period=period)


# --------------------------------------------------------------------------
# Files and ports


def file_state(path):
    """(bytes, mtime_ns, inode, uid, mode) of a path, not following a symlink."""
    st = os.lstat(path)
    data = open(path, "rb").read() if not os.path.islink(path) else os.readlink(path).encode()
    return data, st.st_mtime_ns, st.st_ino, st.st_uid, st.st_mode


def ssh_keypair(directory, name="id_ed25519"):
    """A new ed25519 key: (private path, public line, SHA256 fingerprint)."""
    path = os.path.join(directory, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], check=True)
    pub = open(path + ".pub").read().strip()
    fp = subprocess.run(["ssh-keygen", "-lf", path + ".pub"], capture_output=True, text=True,
                        check=True).stdout.split()[1]
    return path, pub, fp


def auth_info(pub):
    """SSH_AUTH_INFO_0 as OpenSSH sets it after a public key (trailing newline)."""
    kind, blob = pub.split()[:2]
    return f"SSH_AUTH_INFO_0=publickey {kind} {blob}\n"


# Logins over ssh (test_sshd.py, test_setup.py): ssh_login.py, a user with
# a password and an authenticator, and what a run printed.

SSH_LOGIN = str(HERE / "ssh_login.py")
PASSWORD = "Corr3ct-horse"


@pytest.fixture
def ssh_user(users):
    """A user with password PASSWORD and a TOTP authenticator (u.secret)."""
    u = users.make(password=PASSWORD)
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret)))
    return u


class SSHLogin:
    """One ssh_login.py run: its exit code and the lines it printed."""

    def __init__(self, p):
        self.rc, self.stdout, self.stderr = p.returncode, p.stdout, p.stderr
        self.lines = parse_lines(p.stdout)

    @property
    def prompts(self):
        return [t for k, t in self.lines if k.startswith("PROMPT")]

    @property
    def messages(self):
        return [t for k, t in self.lines if k == "MESSAGE"]

    @property
    def output(self):
        return [t for k, t in self.lines if k == "OUTPUT"]

    @property
    def result(self):
        return [t for k, t in self.lines if k == "RESULT"][-1]

    def __repr__(self):
        return f"\n[rc {self.rc}]\n{self.stdout}{self.stderr[-2000:]}"


LOGNS = """#!/bin/sh
# Runs a command in this (new) mount namespace with /dev/log bound to $1.
set -e
sock=$1; old=$2; shift 2
mount --make-rprivate /
mount --bind /dev "$old"
mount -t tmpfs -o mode=755,size=64k tmpfs /dev
for d in null zero full random urandom tty; do touch /dev/$d; mount --bind "$old/$d" /dev/$d; done
touch /dev/log; mount --bind "$sock" /dev/log
exec "$@"
"""


class SyslogCapture:
    """A /dev/log for commands run through `wrap` (a private mount
    namespace whose /dev/log is a datagram socket this process reads):
    every syslog(3) call of the command and its children, e.g. the module's
    pam_syslog messages inside an sshd started through `wrap`."""

    def __init__(self, directory):
        self.dir = directory
        self.sock_path = os.path.join(directory, "log")
        self.old = os.path.join(directory, "olddev")
        os.makedirs(self.old, exist_ok=True)
        self.script = os.path.join(directory, "logns.sh")
        with open(self.script, "w") as f:
            f.write(LOGNS)
        os.chmod(self.script, 0o755)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o666)
        self.sock.settimeout(0.2)
        self.messages = []
        # Read all the time: a unix datagram socket queues only a few
        # messages (net.unix.max_dgram_qlen), then syslog(3) blocks.
        self.running = True
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while self.running:
            try:
                self.messages.append(self.sock.recv(65536).decode(errors="replace"))
            except (socket.timeout, OSError):
                continue

    def wrap(self, args):
        return ["unshare", "-m", self.script, self.sock_path, self.old] + list(args)

    def drain(self):
        time.sleep(0.5)
        return list(self.messages)

    def close(self):
        self.running = False
        self.reader.join()
        self.sock.close()


@pytest.fixture
def syslog(tmp_path):
    d = tmp_path / "syslog"
    d.mkdir()
    s = SyslogCapture(str(d))
    yield s
    s.close()


__all__ = [n for n in dir() if not n.startswith("_")]


class DaemonProcess:
    """A twostepd run in the foreground by a test: its output in `log`,
    `launch` returns once `socket_path` accepts a connection (or fails
    with the log), `stop` sends SIGTERM (SIGKILL after 20 s)."""

    def __init__(self, log_path):
        self.log = open(log_path, "w+")
        self.proc = None

    def launch(self, argv, socket_path):
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(socket_path):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(socket_path)
                    return self
                except OSError:
                    pass
            assert self.proc.poll() is None, self.logtext()
            time.sleep(0.05)
        raise AssertionError("twostepd did not start: " + self.logtext())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()
