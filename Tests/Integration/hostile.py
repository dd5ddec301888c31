"""Helpers for the hostile-conditions tests (test_hostile_*.py, issue 7).

Built on pamtest.py and harness.py (imported, not copied): their fixtures
(module, pamdriver, users, pam), factor-file helpers and the CLI runner
(cli, cli_argv, cli_env). Added here:

  enroll(users, backup=N)   a user with a known TOTP secret and N known backup codes
  Snapshot                  every file under some directories (owner, inode, mtime,
                            content hash): what changed, what root created
  spawn / finish            pamdriver runs started in parallel (subprocess.Popen)
  parses(text)              does a factor file parse (pamtest.parse_records plus the
                            header and the fields every record must have)
  wrapper_env(pam)          environment for a pam_wrapper run, whose stderr holds
                            everything the module gave pam_syslog
  driver_args / driver_env  a pamdriver argv and environment (spawn's)
  run_parallel              one pamdriver per answers list, all at once
  temp_files(dir)           the store's leftover temporary files
  InProcessPAM              libpam in this process (ctypes): many pam_authenticate
                            calls with a different answer each, no process per guess
  NO_SWIFT_BACKTRACE        env for a run whose crash is expected (no backtrace)
"""

import hashlib
import os
import subprocess
import time

from pamtest import *  # noqa: F401,F403
from pamtest import PAMWRAPPER_LIB, parse_lines, Run

PROMPT = "Verification code: "
WRONG = "Wrong code."
UNAVAILABLE = "Two-step verification is unavailable for this account. Contact your administrator."

# Fast, safe defaults for these tests: everything verbose in pam_wrapper.
NO_SWIFT_BACKTRACE = {"SWIFT_BACKTRACE": "enable=no"}


def enroll(users, backup=0, **totp):
    """A new user with one TOTP authenticator (u.secret) and `backup`
    backup codes (u.codes, ids backup-1..N)."""
    u = users.make()
    u.secret = new_secret()
    u.codes = [new_backup_code() for _ in range(backup)]
    lines = [totp_line(u.secret, **totp)] + [backup_line(c, id=f"backup-{i + 1}") for i, c in enumerate(u.codes)]
    u.write_factors(factor_text(*lines))
    return u


# --------------------------------------------------------------------------
# What is on disk


class Snapshot:
    """Every path under `roots` (lstat, not following links): owner, inode,
    mode, size, mtime and a hash of a regular file's content (or a link's
    target). Compare two with `changes` / `new_root_owned`."""

    def __init__(self, *roots):
        self.roots = roots
        self.entries = {}
        for root in roots:
            if not os.path.lexists(root):
                continue
            self._add(root)
            if os.path.isdir(root) and not os.path.islink(root):
                for dirpath, dirnames, filenames in os.walk(root):
                    for name in dirnames + filenames:
                        self._add(os.path.join(dirpath, name))

    def _add(self, path):
        st = os.lstat(path)
        digest = None
        if os.path.islink(path):
            digest = "link:" + os.readlink(path)
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        self.entries[path] = (st.st_uid, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, digest)

    def again(self):
        return Snapshot(*self.roots)

    def changes(self, later):
        """Paths added, removed or changed in `later`."""
        a, b = self.entries, later.entries
        return sorted({p for p in a.keys() | b.keys() if a.get(p) != b.get(p)})

    def new_root_owned(self, later):
        """Paths that exist in `later`, not before, and belong to root."""
        return sorted(p for p, e in later.entries.items() if p not in self.entries and e[0] == 0)


def temp_files(directory, name=".twostep"):
    """The store's temporary files (`.NAME.XXXXXXXXXXXX.tmp`) in `directory`."""
    return sorted(n for n in os.listdir(directory) if n.startswith(f".{name}.") and n.endswith(".tmp"))


# --------------------------------------------------------------------------
# Factor files


def parses(text):
    """True when `text` is a well-formed v1 factor file as far as these
    tests can tell without the Swift parser: the version line first, known
    keywords, `key=value` fields, unique ids, and every record's required
    fields."""
    required = {
        "totp": {"id", "algorithm", "digits", "period", "secret", "label", "created"},
        "backup": {"id", "salt", "hash", "created"},
        "trust": {"id", "service", "created", "expires"},
        "phone": {"id", "number", "channel", "label", "created"},
        "pending": {"id", "phone", "salt", "hash", "created", "expires"},
        "failures": {"count"},
        "sends": set(),
    }
    lines = [l for l in text.split("\n") if l and not l.startswith("#")]
    if not text.endswith("\n") or not lines or lines[0] != "twostep 1":
        return False
    ids = set()
    for line in lines[1:]:
        kw, *fields = line.split(" ")
        if kw not in required or any("=" not in f for f in fields):
            return False
        values = dict(f.split("=", 1) for f in fields)
        if not required[kw] <= values.keys():
            return False
        if "id" in values:
            if values["id"] in ids:
                return False
            ids.add(values["id"])
    return True


# --------------------------------------------------------------------------
# pamdriver in parallel


def driver_args(pam, service, user, answers=(), extra=(), wrapper=False):
    args = [pam.pamdriver, "--service", service, "--user", getattr(user, "name", user), "--no-delay"]
    for a in answers:
        args += ["--answer", a]
    if not wrapper:
        args += ["--confdir", pam.dir]
    return args + list(extra)


def driver_env(pam=None, wrapper=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAM_WRAPPER", "LD_PRELOAD"))}
    env.update(NO_SWIFT_BACKTRACE)
    if wrapper:
        env.update(wrapper_env(pam))
    return env


def wrapper_env(pam):
    return {"LD_PRELOAD": PAMWRAPPER_LIB, "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": pam.dir,
            "PAM_WRAPPER_DEBUGLEVEL": "2"}  # 2: pam_syslog messages; 3 traces items (PAM_AUTHTOK too)


def spawn(pam, service, user, answers=(), extra=(), wrapper=False, env=None):
    """Starts one pamdriver (returns the Popen; see finish)."""
    args = driver_args(pam, service, user, answers, extra, wrapper)
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env or driver_env(pam, wrapper))
    p.args_list = args
    p.started = time.monotonic()
    return p


def finish(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    return Run(p.args_list, p.returncode, out, err, time.monotonic() - p.started, parse_lines(out))


def run_parallel(pam, service, user, answers_list, extra=(), start_together=True):
    """Runs one pamdriver per answers list, all at once; returns the Runs.
    With `start_together`, every process is forked before any is waited on."""
    procs = [spawn(pam, service, user, answers, extra) for answers in answers_list]
    return [finish(p) for p in procs]


# --------------------------------------------------------------------------
# libpam in this process (ctypes): many pam_authenticate calls with a
# different answer each, far faster than a process per guess.

import ctypes
import ctypes.util

PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_ERROR_MSG, PAM_TEXT_INFO = 1, 2, 3, 4
PAM_FAIL_DELAY_ITEM = 10
PAM_CODES = {0: "PAM_SUCCESS", 7: "PAM_AUTH_ERR", 3: "PAM_SERVICE_ERR", 9: "PAM_AUTHINFO_UNAVAIL",
             10: "PAM_USER_UNKNOWN", 11: "PAM_MAXTRIES", 19: "PAM_CONV_ERR", 25: "PAM_IGNORE",
             6: "PAM_PERM_DENIED", 26: "PAM_ABORT"}


class _Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class _Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


_CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(_Message)),
                         ctypes.POINTER(ctypes.POINTER(_Response)), ctypes.c_void_p)
_DELAY = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)


class _Conv(ctypes.Structure):
    _fields_ = [("conv", _CONV), ("appdata_ptr", ctypes.c_void_p)]


class InProcessPAM:
    """One PAM handle (pam_start_confdir) in this process; `authenticate(answers)`
    runs pam_authenticate with those answers for its prompts and returns
    (result name, [(kind, text)…]). Fail delays are requested but never slept
    (a PAM_FAIL_DELAY callback, like pamdriver --no-delay); `delays` counts them."""

    def __init__(self, confdir, service, user):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"))
        self.libc.calloc.restype = ctypes.c_void_p
        self.libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        self.libc.strdup.restype = ctypes.c_void_p
        self.libc.strdup.argtypes = [ctypes.c_char_p]
        self.lib = ctypes.CDLL("libpam.so.0")
        self.lib.pam_start_confdir.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_Conv),
                                               ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        self.lib.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.pam_set_item.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self.answers = []
        self.transcript = []
        self.delays = 0
        self._conv_fn = _CONV(self._conversation)
        self._delay_fn = _DELAY(self._delay)
        self._conv = _Conv(self._conv_fn, None)
        self.start_args = (service.encode(), getattr(user, "name", user).encode(), str(confdir).encode())
        self._start()

    def _start(self):
        service, user, confdir = self.start_args
        self.handle = ctypes.c_void_p()
        rc = self.lib.pam_start_confdir(service, user, ctypes.byref(self._conv), confdir, ctypes.byref(self.handle))
        assert rc == 0, f"pam_start_confdir: {rc}"
        rc = self.lib.pam_set_item(self.handle, PAM_FAIL_DELAY_ITEM, ctypes.cast(self._delay_fn, ctypes.c_void_p))
        assert rc == 0, f"pam_set_item(PAM_FAIL_DELAY): {rc}"

    def _delay(self, retval, usec, appdata):
        if usec:
            self.delays += 1

    def _conversation(self, n, messages, responses, appdata):
        array = self.libc.calloc(n, ctypes.sizeof(_Response))
        if not array:
            return 5  # PAM_BUF_ERR
        out = ctypes.cast(array, ctypes.POINTER(_Response))
        for i in range(n):
            m = messages[i].contents
            kind = {1: "PROMPT_ECHO_OFF", 2: "PROMPT_ECHO_ON", 3: "ERROR", 4: "INFO"}.get(m.msg_style, "?")
            self.transcript.append((kind, (m.msg or b"").decode(errors="replace")))
            if m.msg_style in (PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON):
                if not self.answers:
                    self.transcript.append(("CONV", "out of answers"))
                    self.libc.free(ctypes.c_void_p(array))
                    return 19  # PAM_CONV_ERR
                out[i].resp = self.libc.strdup(self.answers.pop(0).encode())
        responses[0] = out
        return 0

    def authenticate(self, answers):
        # A real client uses one handle per login: start a new one every
        # 100 calls, so that a long run looks like many logins.
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls % 100 == 0:
            self.close()
            self._start()
        self.answers = list(answers)
        self.transcript = []
        rc = self.lib.pam_authenticate(self.handle, 0)
        return PAM_CODES.get(rc, str(rc)), self.transcript

    def close(self):
        if self.handle:
            self.lib.pam_end(self.handle, 0)
            self.handle = ctypes.c_void_p()
