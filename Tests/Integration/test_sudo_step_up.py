"""SPEC §12 end to end: a real sshd whose session stack runs pam_loginuid
and the module's session line, a real sudo whose stack has recent=, and a
sudoers rule for the test users. In the ssh session that passed a code,
sudo asks nothing; everywhere else it asks.

sshd and everything below it run in a private mount namespace in which a
test /etc/pam.d/sudo and /etc/sudoers are bound over the system's
(`Namespace.wrap`, with SyslogCapture's /dev/log): the machine's own sudo
is never touched. sudo's own ticket is off (timestamp_timeout=0), so each
sudo goes through PAM. test_step_up.py has the module-level cases (forged
and replayed notes, other processes, record changes) through pamdriver."""

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import pytest

from pamtest import *  # noqa: F401,F403
from securitykeys import Agent, install_authorized_keys, make_key, sk_provider  # noqa: F401 (sk_provider is a fixture)
from test_sshd import code, has_code_prompt, login, sshd  # noqa: F401 (sshd is a fixture)

SUDO = "sudo -S -p '' true </dev/null 2>&1; echo SUDO-RC=$?"
# What ssh_login.py waits for to call the login a success.
MARK = "; echo LOGGED-IN-MARKER"

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/sudo"), reason="sudo is not installed (make test-deps)")


class Rig:
    def __init__(self, module, tmp_path, syslog, users):
        self.module, self.syslog = module, syslog
        self.dir = str(tmp_path)
        # socket_dir: where the user can reach it (pytest's own directories
        # are root's alone), as /run/twostep is.
        self.run_dir = tempfile.mkdtemp(prefix="twostep-run.")
        os.chmod(self.run_dir, 0o755)
        self.sessions = os.path.join(self.run_dir, "sessions")
        self.users = []
        self.sudo_stack("recent=60")

    def allow(self, *users):
        """sudoers: these users may run anything, asked every time."""
        self.users += users
        path = os.path.join(self.dir, "sudoers")
        with open(path, "w") as f:
            f.write("Defaults timestamp_timeout=0\nDefaults !lecture\nDefaults !fqdn\n"
                    "root ALL=(ALL:ALL) ALL\n" + "".join(f"{u.name} ALL=(ALL:ALL) ALL\n" for u in self.users))
        os.chmod(path, 0o440)

    def sudo_stack(self, options):
        with open(os.path.join(self.dir, "pam.sudo"), "w") as f:
            f.write(f"auth required {self.module} {options} socket_dir={self.run_dir}\n"
                    "account required pam_permit.so\nsession required pam_permit.so\n")

    def sshd_stack(self, auth_options="remember_session", first="auth required pam_unix.so nodelay\n"):
        return (first
                + f"auth required {self.module} {auth_options} socket_dir={self.run_dir}\n"
                + "account required pam_unix.so\n"
                + "session required pam_loginuid.so\n"
                + f"session optional {self.module} socket_dir={self.run_dir}\n"
                + "session required pam_permit.so\n"
                + "password required pam_deny.so\n")

    def wrap(self, argv):
        """sshd.sh start in a namespace with the test's sudo files bound in."""
        binds = (f"mount --make-rprivate / && mount --bind {self.dir}/pam.sudo /etc/pam.d/sudo && "
                 f"mount --bind {self.dir}/sudoers /etc/sudoers && exec \"$@\"")
        return self.syslog.wrap(["sh", "-c", binds, "binds", *argv])

    def records(self):
        return sorted(n for n in os.listdir(self.sessions) if not n.startswith("note-")) if os.path.isdir(self.sessions) else []


@pytest.fixture
def rig(module, tmp_path, syslog, users):
    os.chmod(tmp_path, 0o755)
    rig = Rig(module, tmp_path, syslog, users)
    yield rig
    shutil.rmtree(rig.run_dir, ignore_errors=True)


def sudo_rc(r):
    rc = [t for k, t in r.lines if k == "OUTPUT" and t.startswith("SUDO-RC=")]
    return [int(t.split("=")[1]) for t in rc]


def asked(r):
    """sudo's PAM conversation was used: with -S and no input, sudo says a
    password is required (the module's prompt got no answer)."""
    return any("a password is required" in t or "verification code" in t.lower() for k, t in r.lines if k == "OUTPUT")


def test_sudo_asks_nothing_in_the_session_that_passed_a_code(rig, sshd, ssh_user):
    rig.allow(ssh_user)
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    r = login(server, ssh_user, [code(ssh_user)], command=SUDO + MARK)
    assert r.rc == 0, r
    assert sudo_rc(r) == [0] and not asked(r), r
    log = " ".join(rig.syslog.drain())
    assert "remembered as verified (authenticator)" in log, log
    assert "passed the second step (authenticator)" in log and "no code asked" in log, log
    # The variable is not in the shell's environment... nor is the record after logout.
    time.sleep(0.5)
    assert rig.records() == [], rig.records()


def test_note_variable_not_in_the_session_environment(rig, sshd, ssh_user):
    rig.allow(ssh_user)
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    r = login(server, ssh_user, [code(ssh_user)], command="env | grep -c TWOSTEP_" + MARK)
    assert r.rc == 0 and ("OUTPUT", "0") in r.lines, r


def test_after_recent_expires_asked(rig, sshd, ssh_user):
    rig.allow(ssh_user)
    rig.sudo_stack("recent=2")
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    r = login(server, ssh_user, [code(ssh_user)], command=f"sleep 3; {SUDO}" + MARK)
    assert sudo_rc(r) == [1] and asked(r), r


def test_recent_factor_security_key_after_a_code_asked(rig, sshd, ssh_user):
    rig.allow(ssh_user)
    rig.sudo_stack("recent=60 recent_factor=security-key")
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    r = login(server, ssh_user, [code(ssh_user)], command=SUDO + MARK)
    assert sudo_rc(r) == [1] and asked(r), r


def test_trusted_device_login_does_not_count(rig, sshd, ssh_user):
    """A login let in by a trusted device passed no second step: no step-up."""
    rig.allow(ssh_user)
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    first = login(server, ssh_user, [code(ssh_user)], trust="y")
    assert first.rc == 0 and "\ntrust " in ssh_user.read_factors(), first
    second = login(server, ssh_user, [], command=SUDO + MARK)
    assert second.rc == 0 and not has_code_prompt(second), second
    assert sudo_rc(second) == [1] and asked(second), second


def test_exempt_host_login_does_not_count(rig, sshd, ssh_user):
    rig.allow(ssh_user)
    server = sshd(rig.sshd_stack("remember_session exempt_rhost=127.0.0.0/8"), wrap=rig.wrap)
    r = login(server, ssh_user, [], command=SUDO + MARK)
    assert r.rc == 0 and not has_code_prompt(r), r
    assert sudo_rc(r) == [1] and asked(r), r


def test_su_to_another_user_does_not_inherit(rig, sshd, ssh_user, users):
    other = users.make(password=PASSWORD)
    other.secret = new_secret()
    other.write_factors(factor_text(totp_line(other.secret)))
    rig.allow(ssh_user, other)
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    # The step-up takes the user to root; root's su to the other user
    # needs no password; the other user's sudo is asked for a code.
    inner = shlex.quote(SUDO)
    r = login(server, ssh_user, [code(ssh_user)], command=f"sudo -S -p '' su {other.name} -c {inner} </dev/null" + MARK)
    assert sudo_rc(r) == [1] and asked(r), r
    log = " ".join(rig.syslog.drain())
    assert f"user {other.name} service sudo" in log and "no code asked" in log, log


def test_process_outside_any_login_session_asked(rig, sshd, ssh_user):
    """A session exists (the login below is still running); sudo from a
    process outside any login session, as the same user, is asked."""
    rig.allow(ssh_user)
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    gate = os.path.join(rig.run_dir, "gate")  # where the user can see it
    import threading
    results = []
    t = threading.Thread(target=lambda: results.append(
        login(server, ssh_user, [code(ssh_user)], command=f"i=0; while [ ! -e {gate} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done" + MARK)))
    t.start()
    deadline = time.time() + 30
    while not rig.records() and time.time() < deadline:
        time.sleep(0.1)
    assert rig.records(), "the login's session was not recorded"
    argv = rig.wrap(["setpriv", f"--reuid={ssh_user.uid}", f"--regid={ssh_user.gid}", "--init-groups",
                     "sh", "-c", SUDO + " 2>&1"])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    open(gate, "w").close()
    t.join(60)
    assert not t.is_alive() and results and results[0].rc == 0, results
    assert "SUDO-RC=1" in p.stdout and "a password is required" in p.stdout, p.stdout + p.stderr


def test_security_key_login_counts_for_recent_factor_security_key(rig, sshd, users, sk_provider, tmp_path):
    user = users.make(password=PASSWORD)
    user.secret = new_secret()
    key = make_key(str(tmp_path), "k1", "ed25519-sk", verify_required=True, sk=sk_provider)
    install_authorized_keys(user, [key.line])
    user.write_factors(factor_text(totp_line(user.secret), sshkey_line(key)))
    rig.allow(user)
    rig.sudo_stack("recent=60 recent_factor=security-key")
    server = sshd(rig.sshd_stack("remember_session security_keys=verify", first=""), auth="key+kbdint",
                  extra="PubkeyAuthOptions verify-required", wrap=rig.wrap)
    with Agent(sk_provider) as agent:
        agent.add(key)
        r = login(server, user, [], password=None, key=key.private, client="openssh", env=agent.env, command=SUDO + MARK)
    assert not has_code_prompt(r), r
    assert sudo_rc(r) == [0] and not asked(r), r


def test_status_shows_the_verified_session(rig, sshd, ssh_user, twostep_bin):
    rig.allow(ssh_user)
    rig.sudo_stack("recent=600")
    server = sshd(rig.sshd_stack(), wrap=rig.wrap)
    env = f"TWOSTEP_SOCKET_DIR={rig.run_dir}"
    r = login(server, ssh_user, [code(ssh_user)],
              command=f"{env} {twostep_bin} status; {env} {twostep_bin} status --json" + MARK)
    out = [t for k, t in r.lines if k == "OUTPUT"]
    text = "\n".join(out)
    assert "passed the second step (authenticator)" in text and "sudo asks no code in it until" in text, text
    assert "recent=600" in text, text
    doc = json.loads(next(t for t in out if t.startswith("{")))
    s = doc["login_session"]
    assert s["factor"] == "authenticator" and s["recent"] == 600 and s["recent_factor"] == "any", s
    assert s["step_up_until"] == s["verified"] + 600 and abs(s["verified"] - time.time()) < 60, s
    # Outside the session: no login_session.
    p = subprocess.run(["setpriv", f"--reuid={ssh_user.uid}", f"--regid={ssh_user.gid}", "--init-groups",
                        twostep_bin, "status", "--json"], capture_output=True, text=True,
                       env=dict(os.environ, TWOSTEP_SOCKET_DIR=rig.run_dir, HOME=ssh_user.home))
    assert json.loads(p.stdout)["login_session"] is None, p.stdout + p.stderr
