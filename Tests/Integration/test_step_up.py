"""SPEC §12 at the module's level: the session note a `remember_session`
line leaves, the session record `pam_sm_open_session` makes of it (after
pam_loginuid, which gives the process an audit session id), and `recent=`
on a sudo-like line. Real libpam through pamdriver (--confdir); the login
and the step-up are separate processes, the step-up a child of the login's
session (--session-cmd). test_sudo_step_up.py does the same through a real
sshd and a real sudo."""

import glob
import os
import subprocess
import sys
import threading
import time

import pytest

from fleet import Fleet, code_at
from harness import current_step
from pamtest import *  # noqa: F401,F403


class Rig:
    """A login stack (`login-it`: the code, pam_loginuid, the module's
    session line) and a step-up stack (`sudo`: recent=)."""

    def __init__(self, pam, run_dir, user, base=None, code=None):
        """`base`: the options every line of both stacks gets (default:
        socket_dir=RUN_DIR and this test's send_count_dir=); `code`: a
        function of the user giving a right, unused code."""
        self.pam, self.user = pam, user
        self.run_dir = run_dir
        self.sessions = os.path.join(self.run_dir, "sessions")
        self.out = os.path.join(os.path.dirname(pam.dir), "inner.out")
        self.base = base or f"socket_dir={self.run_dir} send_count_dir={self.pam.sends}"
        self.code = code or (lambda u: fresh_code(u.secret, u.read_factors()))
        self.login_stack()
        self.sudo_stack()

    def login_stack(self, auth_options="remember_session", session_line=True):
        m = self.pam.module
        self.pam.stack("login-it",
                       f"auth required {m} {auth_options} {self.base}\n"
                       "account required pam_permit.so\n"
                       "session required pam_loginuid.so\n"
                       + (f"session optional {m} {self.base}\n" if session_line else ""))

    def sudo_stack(self, options="recent=60"):
        self.pam.stack("sudo", f"auth required {self.pam.module} {options} {self.base}\naccount required pam_permit.so\n")

    def sudo_argv(self, user=None, answers=()):
        args = [self.pam.pamdriver, "--service", "sudo", "--user", (user or self.user).name,
                "--confdir", self.pam.dir, "--no-delay"]
        for a in answers:
            args += ["--answer", a]
        return args

    def login(self, command=None, code=None, user=None, extra=()):
        """A login with a right code, its session open while `command` runs."""
        user = user or self.user
        extra = ["--session", *(["--session-cmd", command] if command else []), *extra]
        return self.pam.run("login-it", user, [code or self.code(user)], extra=extra)

    def login_then_sudo(self, before="", user=None):
        """A login whose session runs `before`, then the step-up stack; the
        step-up's pamdriver output is returned (with the login's run)."""
        cmd = f"{before} {' '.join(self.sudo_argv(user=user))} > {self.out} 2>&1"
        r = self.login(cmd)
        assert r.result == "PAM_SUCCESS", r
        return r, parse_lines(open(self.out).read())

    def records(self):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.sessions, "*")))


# Changes a factor file as `twostep enroll` (a new authenticator),
# `twostep reset` (no file) or a lock-out would, keeping its owner and mode.
EDIT = """import os, re, time
path, change, now = {path!r}, {change!r}, int(time.time())
if change == "reset":
    os.unlink(path)
else:
    text = open(path).read()
    if change == "reenrol":
        text = re.sub(r"^totp id=totp-1 (.*) created=[0-9]+", lambda m: "totp id=totp-2 " + m.group(1) + " created=%d" % (now + 1), text, flags=re.M)
    elif change == "lockout":
        text = re.sub(r"^failures .*$", "failures count=0005 locked-until=%010d" % (now + 300), text, flags=re.M)
    else:
        text = re.sub(r"^failures .*$", "failures count=0001 last=%d" % now, text, flags=re.M)
    st = os.stat(path)
    with open(path, "w") as f:
        f.write(text)
"""


def prompted(lines):
    return any(k == "PROMPT_ECHO_OFF" for k, _ in lines)


def result(lines):
    return [t for k, t in lines if k == "RESULT"][-1]


@pytest.fixture
def rig(pam, tmp_path, ssh_user):
    os.chmod(tmp_path, 0o755)
    return Rig(pam, str(tmp_path / "run"), ssh_user)


def test_step_up_in_the_session_that_passed_a_code(rig):
    r, sudo = rig.login_then_sudo()
    assert result(sudo) == "PAM_SUCCESS" and not prompted(sudo), sudo
    # The note's name went through the PAM environment and was removed by
    # pam_sm_open_session; the record was removed by pam_sm_close_session.
    env = [t for k, t in r.lines if k == "PAMENV"]
    assert len(env) == 1 and env[0].startswith("TWOSTEP_SESSION_NOTE="), r
    assert ("SESSION", "PAM_SUCCESS") in r.lines and ("CLOSE", "PAM_SUCCESS") in r.lines, r
    assert rig.records() == [], "the record outlived its session"
    st = os.stat(rig.sessions)
    assert st.st_uid == 0 and st.st_mode & 0o7777 == 0o711


def test_record_while_the_session_is_open(rig):
    listing = str(rig.out) + ".ls"
    r = rig.login(f"ls -ln {rig.sessions} > {listing}; cat {rig.sessions}/*-* >> {listing}")
    text = open(listing).read()
    boot = open("/proc/sys/kernel/random/boot_id").read().strip()
    assert f"-rw-r--r-- 1 0 0" in text, text
    assert f"session user={rig.user.name} uid={rig.user.uid} factor=authenticator" in text, text
    assert f"boot={boot}" in text, text


def test_outside_any_login_session_prompted(rig):
    r = rig.pam.run("sudo", rig.user, [])
    assert prompted(r.lines) and r.result != "PAM_SUCCESS", r


def test_recent_expires(rig):
    rig.sudo_stack("recent=2")
    r, sudo = rig.login_then_sudo(before="sleep 3;")
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


def test_recent_factor_security_key_after_a_code(rig):
    rig.sudo_stack("recent=60 recent_factor=security-key")
    r, sudo = rig.login_then_sudo()
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


def test_another_user_in_the_session_prompted(rig, users):
    other = users.make(password=PASSWORD)
    other.secret = new_secret()
    other.write_factors(factor_text(totp_line(other.secret)))
    r, sudo = rig.login_then_sudo(user=other)
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


@pytest.mark.parametrize("change", ["reenrol", "reset", "lockout", "wrongcode"])
def test_record_change_since_login_ends_the_step_up(rig, change):
    u = rig.user
    script = rig.out + ".edit.py"
    with open(script, "w") as f:
        f.write(EDIT.format(path=u.factor_path, change=change))
    edit = f"{sys.executable} {script}"
    listing = rig.out + ".ls"
    r = rig.login(f"sleep 1; {edit}; {' '.join(rig.sudo_argv())} > {rig.out} 2>&1; ls {rig.sessions} > {listing}")
    sudo = parse_lines(open(rig.out).read())
    assert result(sudo) != "PAM_SUCCESS", sudo
    if change in ("reenrol", "wrongcode"):
        assert prompted(sudo), sudo
    if change != "reset":
        # The step-up is over for good: the record went at once.
        assert [n for n in open(listing).read().split() if not n.startswith("note-")] == []


def test_recent_ignored_on_a_remember_session_line(rig):
    rig.login_stack("remember_session recent=60")
    r = rig.login()
    assert r.result == "PAM_SUCCESS"
    # The login asked for its code as usual: recent= did nothing there.
    assert any(k == "PROMPT_ECHO_OFF" for k, _ in r.lines), r


def test_no_session_line_no_record(rig):
    rig.login_stack(session_line=False)
    r, sudo = rig.login_then_sudo()
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo
    assert [p for p in rig.records() if not p.startswith("note-")] == []


def note_of(run):
    env = [t for k, t in run.lines if k == "PAMENV"]
    assert env and env[0].startswith("TWOSTEP_SESSION_NOTE="), run
    return env[0].split("=", 1)[1]


def test_note_bound_to_its_process(rig):
    """A note left by one process (a login whose session stack does not take
    it) is refused by another process's session stack, and left in place
    (a name that reached another process uses nothing up)."""
    rig.login_stack(session_line=False)
    first = rig.login()
    name = note_of(first)
    assert os.path.exists(os.path.join(rig.sessions, "note-" + name))
    rig.login_stack()
    other = rig.pam.run("login-it", rig.user, [], extra=["--session-only", "--session-cmd",
                        f"{' '.join(rig.sudo_argv())} > {rig.out} 2>&1"],
                        env=[f"TWOSTEP_SESSION_NOTE={name}"])
    assert ("SESSION", "PAM_SUCCESS") in other.lines, other  # pam_loginuid decides the session
    sudo = parse_lines(open(rig.out).read())
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo
    assert os.path.exists(os.path.join(rig.sessions, "note-" + name)), "another process used the note up"


@pytest.mark.parametrize("name", ["0" * 32, "../../etc/passwd", "A" * 32, "1" * 31, ""])
def test_forged_note_name(rig, name):
    r = rig.pam.run("login-it", rig.user, [], extra=["--session-only", "--session-cmd",
                    f"{' '.join(rig.sudo_argv())} > {rig.out} 2>&1"],
                    env=[f"TWOSTEP_SESSION_NOTE={name}"])
    assert ("SESSION", "PAM_SUCCESS") in r.lines, r  # pam_loginuid decides the session; the module only ignores
    # The variable never reaches the session, whatever it held.
    assert not [t for k, t in r.lines if k == "PAMENV"], r
    sudo = parse_lines(open(rig.out).read())
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


def test_replayed_note_name(rig):
    first = rig.login()
    name = note_of(first)
    r = rig.pam.run("login-it", rig.user, [], extra=["--session-only", "--session-cmd",
                    f"{' '.join(rig.sudo_argv())} > {rig.out} 2>&1"],
                    env=[f"TWOSTEP_SESSION_NOTE={name}"])
    assert ("SESSION", "PAM_SUCCESS") in r.lines, r  # pam_loginuid decides the session; the module only ignores
    sudo = parse_lines(open(rig.out).read())
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


def test_unsafe_sessions_directory_refused(rig):
    os.makedirs(rig.sessions, mode=0o711)
    os.chmod(rig.sessions, 0o777)
    r, sudo = rig.login_then_sudo()
    assert ("SESSION", "PAM_SUCCESS") in r.lines, r  # pam_loginuid decides the session; the module only ignores
    assert prompted(sudo) and result(sudo) != "PAM_SUCCESS", sudo


def test_two_sessions_of_one_user_keep_separate_records(rig):
    """Two logins at once: two audit sessions, two records; each closes its own."""
    gate = rig.out + ".gate"
    seen = [rig.out + ".a", rig.out + ".b"]
    runs = []

    def one(listing):
        cmd = f"ls {rig.sessions} > {listing}; i=0; while [ ! -e {gate} ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done; ls {rig.sessions} >> {listing}"
        runs.append(rig.login(cmd))

    t = threading.Thread(target=one, args=(seen[0],))
    t.start()
    deadline = time.time() + 30
    while not os.path.exists(seen[0]) and time.time() < deadline:
        time.sleep(0.1)
    # The second login needs a code of its own time step (the first one is spent).
    time.sleep(31 - time.time() % 30)
    t2 = threading.Thread(target=one, args=(seen[1],))
    t2.start()
    while not os.path.exists(seen[1]) and time.time() < deadline + 40:
        time.sleep(0.1)
    time.sleep(0.5)
    both = [r for r in rig.records() if not r.startswith("note-")]
    open(gate, "w").close()
    t.join(60)
    t2.join(60)
    assert len(both) == 2 and len({b.rsplit("-", 2)[1] for b in both}) == 2, both
    assert all(r.result == "PAM_SUCCESS" for r in runs), runs
    assert [r for r in rig.records() if not r.startswith("note-")] == []


def test_step_up_in_fleet_mode(daemon_bin, twostep_bin, pam, users):
    """store=twostepd: the record comes from twostepd, the session record
    stays on the host (under its socket_dir)."""
    with Fleet(daemon_bin, pam, hosts=1, extra="window=10\n") as fleet:
        host = fleet.hosts[0]
        u = users.make()
        fleet.enroll(u)
        rig = Rig(host.pam, host.sockets, u, base=f"config={host.config}", code=lambda _: code_at(current_step() + 1))
        r, sudo = rig.login_then_sudo()
        assert result(sudo) == "PAM_SUCCESS" and not prompted(sudo), str(sudo) + host.logtext()
        # A reset through twostepd, in the middle of the next session, ends it.
        reset = (f"TWOSTEP_CONFIG={host.config} TWOSTEP_SOCKET_DIR={host.sockets} {twostep_bin} reset --user {u.name}"
                 " > /dev/null")
        r = rig.login(f"{reset}; {' '.join(rig.sudo_argv())} > {rig.out} 2>&1", code=code_at(current_step() + 2))
        assert r.result == "PAM_SUCCESS", str(r) + host.logtext()
        sudo = parse_lines(open(rig.out).read())
        assert result(sudo) != "PAM_SUCCESS", sudo


def test_a_sudo_line_never_leaves_a_note(rig):
    """remember_session on sudo's line: the code is accepted, no note is
    written and nothing goes into the PAM environment (sudo copies its
    PAM environment into the command's)."""
    rig.pam.stack("sudo", f"auth required {rig.pam.module} remember_session {rig.base}\naccount required pam_permit.so\n"
                          "session required pam_permit.so\n")
    r = rig.pam.run("sudo", rig.user, [rig.code(rig.user)], extra=["--session"])
    assert r.result == "PAM_SUCCESS", r
    assert not [t for k, t in r.lines if k == "PAMENV"], r
    assert not os.path.isdir(rig.sessions) or not [n for n in os.listdir(rig.sessions) if n.startswith("note-")]


def test_a_process_already_in_a_login_session_leaves_no_note(rig):
    """An sshd started from a shell is inside that shell's session: its
    remember_session line writes no note (the step-up would be the shell's)."""
    inner = rig.out + ".inner"
    cmd = (f"{rig.pam.pamdriver} --service login-it --user {rig.user.name} --confdir {rig.pam.dir} --no-delay "
           f"--answer {rig.code(rig.user)} --session > {inner} 2>&1")
    # The outer "login" only puts the inner one in a login session.
    rig.pam.stack("outer", "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_loginuid.so\n")
    outer = rig.pam.run("outer", rig.user, [], extra=["--session", "--session-cmd", cmd])
    assert outer.result == "PAM_SUCCESS", outer
    lines = parse_lines(open(inner).read())
    assert ("RESULT", "PAM_SUCCESS") in lines, lines
    assert not [t for k, t in lines if k == "PAMENV"], lines
