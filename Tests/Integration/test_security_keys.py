"""SPEC §11, the module's side: an enrolled OpenSSH FIDO security key counts
as the second step of an SSH login.

A real sshd (sshd.sh, `AuthenticationMethods publickey,keyboard-interactive`,
`PubkeyAuthOptions verify-required`) with pam_twostep.so in its PAM stack,
the real OpenSSH client (ssh_login.py --client openssh) signing through
ssh-agent with OpenSSH's test provider sk-dummy.so (securitykeys.py: real
keys and signatures, no hardware). Keys are enrolled by writing their
`sshkey` line into the user's factor file (pamtest.sshkey_line). What the
module logs is read from a /dev/log of the test's own (SyslogCapture)."""

import os
import time

import pytest

from pamtest import *  # noqa: F401,F403
from securitykeys import Agent, install_authorized_keys, make_key, sk_provider  # noqa: F401 (sk_provider is a fixture)
from test_sshd import has_code_prompt, login, sshd  # noqa: F401 (sshd is a fixture)

VERIFY_REQUIRED = "PubkeyAuthOptions verify-required"


def key_stack(module, options, session=""):
    """The PAM stack of an sshd whose first step is the key (no password):
    the module alone in auth, as pam_twostep(8)'s EXAMPLES say."""
    return (f"auth required {module} {options}\n"
            "account required pam_unix.so\n"
            + session
            + "session required pam_permit.so\n"
            "password required pam_deny.so\n")


class Setup:
    """A user with a TOTP authenticator (`secret`), the given keys in
    ~/.ssh/authorized_keys and in an agent, and an sshd."""

    def __init__(self, users, sk, tmp_path):
        self.sk, self.dir = sk, str(tmp_path)
        self.user = users.make(password=PASSWORD)
        self.user.secret = new_secret()
        self.keys = {}

    def key(self, name, kind="ed25519-sk", verify_required=True):
        k = make_key(self.dir, name, kind, verify_required=verify_required and kind.endswith("-sk"), sk=self.sk)
        self.keys[name] = k
        install_authorized_keys(self.user, [k.line for k in self.keys.values()])
        return k

    def enrol(self, *lines):
        """The factor file: the authenticator and `lines` (sshkey, failures …)."""
        path = self.user.factor_path
        if os.path.exists(path):
            os.unlink(path)
        self.user.write_factors(factor_text(totp_line(self.user.secret), *lines))

    def login(self, server, key, codes=()):
        with Agent(self.sk) as agent:
            agent.add(key)
            return login(server, self.user, codes, password=None, key=key.private, client="openssh", env=agent.env)

    def code(self):
        return fresh_code(self.user.secret, self.user.read_factors())


@pytest.fixture
def setup(users, sk_provider, tmp_path):
    os.chmod(tmp_path, 0o755)
    return Setup(users, sk_provider, tmp_path)


def start(sshd, module, options="security_keys=verify", syslog=None, session=""):
    return sshd(key_stack(module, options, session), auth="key+kbdint", extra=VERIFY_REQUIRED,
                wrap=syslog.wrap if syslog else None)


def asked_and_code_works(setup, server, key):
    """A login with `key` is asked for a code; given the right one, it gets in."""
    r = setup.login(server, key)
    assert r.rc != 0 and has_code_prompt(r), r
    r = setup.login(server, key, [setup.code()])
    assert r.rc == 0 and r.result == "LOGGED-IN" and has_code_prompt(r), r


def sshkey_record(user):
    (rec,) = records(user.read_factors(), "sshkey")
    return rec


# (a) An enrolled verify-required key under security_keys=verify: no code.
@pytest.mark.parametrize("kind", ["ed25519-sk", "ecdsa-sk"])
def test_security_key_enrolled_logs_in_without_code(sshd, module, setup, syslog, kind):
    key = setup.key("vr", kind)
    setup.enrol(sshkey_line(key, id="key-1"))
    server = start(sshd, module, syslog=syslog)
    before = int(time.time())
    r = setup.login(server, key)  # no code given: a code prompt would abort the login
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert not has_code_prompt(r), r
    rec = sshkey_record(setup.user)
    assert before <= int(rec["last-used"]) <= int(time.time()), rec
    logged = [m for m in syslog.drain() if "pam_twostep" in m]
    assert any(f"user {setup.user.name} service {server.service} from 127.0.0.1: security key key-1" in m
               for m in logged), logged
    assert not any(key.base64[20:60] in m for m in syslog.messages), "the key blob was logged"

    # Again: last-used (now present, same length) is written in place.
    inode = os.stat(setup.user.factor_path).st_ino
    time.sleep(1.1)
    r = setup.login(server, key)
    assert r.rc == 0 and not has_code_prompt(r), r
    assert int(sshkey_record(setup.user)["last-used"]) > int(rec["last-used"])
    assert os.stat(setup.user.factor_path).st_ino == inode


# (b) An sk key that is not enrolled (another one is): asked for a code.
def test_security_key_unenrolled_asks_for_code(sshd, module, setup):
    enrolled = setup.key("enrolled")
    other = setup.key("other")
    setup.enrol(sshkey_line(enrolled))
    server = start(sshd, module)
    asked_and_code_works(setup, server, other)
    assert "last-used" not in sshkey_record(setup.user)


# (c) A plain ssh-ed25519 key: asked for a code.
def test_security_key_plain_key_asks_for_code(sshd, module, setup):
    enrolled = setup.key("enrolled")
    plain = setup.key("plain", "ed25519")
    setup.enrol(sshkey_line(enrolled))
    server = start(sshd, module)
    asked_and_code_works(setup, server, plain)


# (d) The enrolled key with security_keys=off: asked for a code.
def test_security_key_policy_off_asks_for_code(sshd, module, setup):
    key = setup.key("vr")
    setup.enrol(sshkey_line(key))
    server = start(sshd, module, options="security_keys=off")
    asked_and_code_works(setup, server, key)
    assert "last-used" not in sshkey_record(setup.user)


# (e) An enrolled touch-only key under verify-required: sshd refuses it,
# PAM never runs (what security_keys=verify rests on).
def test_security_key_touch_only_refused_by_sshd(sshd, module, setup):
    touch = setup.key("touch", verify_required=False)
    setup.enrol(sshkey_line(touch))
    server = start(sshd, module)
    r = setup.login(server, touch, [setup.code()])
    assert r.rc != 0 and r.result.startswith("FAILED"), r
    assert not has_code_prompt(r), r
    assert "user verification requirement not met" in server.log, server.log
    assert "last-used" not in sshkey_record(setup.user)


# (f) A spoofed SSH_AUTH_INFO_0 in ~/.pam_environment, naming the enrolled
# key, while logging in with a plain key: still asked for a code.
#
# Why: the module reads SSH_AUTH_INFO_0 in pam_sm_authenticate only, and
# nothing the user controls has run by then. pam_env sets variables in
# pam_sm_setcred and pam_sm_open_session, never in pam_sm_authenticate,
# and Debian 12's /etc/pam.d/sshd runs it in the session stack only
# (`session required pam_env.so user_readenv=1 envfile=/etc/default/locale`):
# the stack below has that line, and a pam_exec after it records the
# variable, to show that the user's file does replace it there.
SESSION_CAPTURE = """#!/bin/sh
printf '%s' "$SSH_AUTH_INFO_0" > "$(dirname "$0")/session-auth-info"
"""


def test_security_key_spoofed_pam_environment_asks_for_code(sshd, module, setup, tmp_path):
    enrolled = setup.key("enrolled")
    plain = setup.key("plain", "ed25519")
    setup.enrol(sshkey_line(enrolled))
    spoof = f"publickey {enrolled.type} {enrolled.base64}"
    path = os.path.join(setup.user.home, ".pam_environment")
    with open(path, "w") as f:
        f.write(f'SSH_AUTH_INFO_0 OVERRIDE="{spoof}"\n')
    os.chown(path, setup.user.uid, setup.user.gid)
    script = tmp_path / "capture"
    script.write_text(SESSION_CAPTURE)
    script.chmod(0o755)
    session = ("session required pam_env.so user_readenv=1 envfile=/etc/default/locale\n"
               f"session optional pam_exec.so quiet {script}\n")
    server = start(sshd, module, session=session)
    asked_and_code_works(setup, server, plain)
    assert (tmp_path / "session-auth-info").read_text().startswith(spoof), "pam_env did not replace the variable"
    assert "last-used" not in sshkey_record(setup.user)


# (g) A locked-out user with the enrolled key: logged in; the lock-out and
# the failure count are left as they were (a lock-out stops code guessing).
def test_security_key_locked_out_user_logs_in(sshd, module, setup):
    key = setup.key("vr")
    until = int(time.time()) + 250  # within lockout=300, so no module caps it
    setup.enrol(sshkey_line(key), failures_line(5, locked_until=until, last=int(time.time())))
    server = start(sshd, module)
    r = setup.login(server, key)
    assert r.rc == 0 and r.result == "LOGGED-IN" and not has_code_prompt(r), r
    text = setup.user.read_factors()
    assert failure_count(text) == 5 and locked_until(text) == until, text
    assert "last-used" in sshkey_record(setup.user)


# (h) Fleet mode: the same code path through twostepd's Login socket
# (VersionedRecordStore over DaemonRecordBackend), two hosts sharing one
# PostgreSQL. The sshd side is the tests above; here pamdriver gives the
# module SSH_AUTH_INFO_0 as sshd sets it after the key.
def test_security_key_fleet_two_hosts_and_offline_copy(daemon_bin, pam, users, sk_provider, tmp_path):
    from fleet import Fleet
    key = make_key(str(tmp_path), "vr", "ed25519-sk", verify_required=True, sk=sk_provider)
    plain = make_key(str(tmp_path), "plain", "ed25519")
    extra = "window=10\nsecurity_keys=verify\noffline=cached\noffline_max_age=3600\n"
    with Fleet(daemon_bin, pam, hosts=2, extra=extra) as f:
        u = users.make()
        f.enroll(u, host=0)
        # Enrolled on host 1 by root (`add key --user`, through twostepd into the database) ...
        r = f.hosts[0].cli("add", "key", "--user", u.name, "--label", "yubikey", "-", stdin=key.line + "\n")
        assert r.returncode == 0, r
        assert records(f.pg.record(u.name), "sshkey"), "the key is not in the database"

        def used(record):
            (rec,) = records(record, "sshkey")
            return rec.get("last-used")

        def key_login(host, k):
            return f.run(host, u, env=(f"SSH_AUTH_INFO_0=publickey {k.type} {k.base64}\n",), wrapper=True)

        # ... and it counts on both hosts, host 2 first.
        for host in (1, 0):
            before = int(time.time())
            r = key_login(host, key)
            assert r.result == "PAM_SUCCESS" and not r.prompts, str(r) + f.hosts[host].logtext()
            assert any("security key key-1" in m for m in r.syslog), r.syslog
            assert before <= int(used(f.pg.record(u.name))) <= int(time.time())
        r = key_login(1, plain)  # a plain key: the code prompt (no answer given: refused)
        assert r.result != "PAM_SUCCESS" and r.prompts, r

        # offline=cached: the key counts from host 2's cached copy; its last
        # use is not written (twostepd journals codes only).
        last = used(f.pg.record(u.name))
        f.pg.stop()
        try:
            r = key_login(1, key)
            assert r.result == "PAM_SUCCESS" and not r.prompts, str(r) + f.hosts[1].logtext()
            assert any("cached copy" in m for m in r.syslog), r.syslog
            assert not os.path.exists(os.path.join(f.hosts[1].cache, "journal")), "a key login was journalled"
        finally:
            f.pg.start()
        assert used(f.pg.record(u.name)) == last
