"""Logins over a real OpenSSH server on loopback (sshd.sh) with
pam_twostep.so in its PAM stack, driven by ssh_login.py (paramiko, and the
real ssh client once). See HARNESS.md for how sshd passes PAM messages."""

import os
import secrets
import shlex
import subprocess
import sys

import pytest

from pamtest import *  # noqa: F401,F403

SSHD_SH = str(HERE / "sshd.sh")


class Server:
    def __init__(self, directory, port, service):
        self.dir, self.port, self.service = directory, port, service

    @property
    def log(self):
        try:
            return open(os.path.join(self.dir, "sshd.log")).read()
        except OSError:
            return ""


@pytest.fixture
def sshd(module, tmp_path):
    """Factory: sshd(stack_text, auth="kbdint", extra="", wrap=None) starts a
    private sshd with that PAM stack (`extra`: sshd_config lines, sshd.sh's
    SSHD_EXTRA; `wrap`: a function of the start command's argv, e.g.
    SyslogCapture.wrap to read what the module logs) and returns a Server. Every server is stopped and its
    /etc/pam.d file removed at teardown, whatever happened."""
    started = []

    def start(stack, auth="kbdint", extra="", wrap=None):
        n = len(started)
        directory = tmp_path / f"sshd{n}"
        directory.mkdir()
        service = f"twostep-it-{secrets.token_hex(3)}"
        server = Server(str(directory), free_port(), service)
        started.append(server)
        stack_file = tmp_path / f"stack{n}"
        stack_file.write_text(stack)
        env = dict(os.environ, SSHD_DIR=server.dir, SSHD_PORT=str(server.port), SSHD_SERVICE=service,
                   SSHD_PAM_STACK=str(stack_file), SSHD_AUTH=auth, SSHD_EXTRA=extra)
        argv = ["bash", SSHD_SH, "start"]
        p = subprocess.run(wrap(argv) if wrap else argv, env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"sshd.sh start failed:\n{p.stdout}\n{p.stderr}\n{server.log}"
        return server

    os.chmod(tmp_path, 0o755)
    try:
        yield start
    finally:
        for server in started:
            subprocess.run(["bash", SSHD_SH, "stop", server.dir], capture_output=True, timeout=60)
            pam_file = f"/etc/pam.d/{server.service}"
            if os.path.exists(pam_file) and "sshd.sh test stack" in open(pam_file).read():
                os.unlink(pam_file)
        for server in started:
            assert not os.path.exists(f"/etc/pam.d/{server.service}"), "sshd_stop left the pam.d file"


def stack(module, options="", first="auth required pam_unix.so nodelay\n"):
    return (first
            + f"auth required {module} {options}\n"
            + "account required pam_unix.so\n"
            + "session required pam_permit.so\n"
            + "password required pam_deny.so\n")






def login(server, user, codes=(), password=PASSWORD, trust=None, key=None, client="paramiko",
          command="echo LOGGED-IN-MARKER", env=None):
    """One ssh_login.py run; `env`: its environment (an ssh-agent's, for
    security keys with --client openssh)."""
    args = [sys.executable, SSH_LOGIN, "--port", str(server.port), "--user", user.name,
            "--command", command, "--client", client, "--timeout", "30"]
    if password is not None:
        args += ["--password", password]
    for c in codes:
        args += ["--code", c]
    if trust is not None:
        args += ["--trust", trust]
    if key:
        args += ["--key", key]
    r = SSHLogin(subprocess.run(args, env=env, capture_output=True, text=True, timeout=90))
    print(f"$ {shlex.join(args[1:])}{r!r}")
    return r


def has_code_prompt(r):
    return any("verification code" in p.lower() for p in r.prompts)


def code(u):
    return fresh_code(u.secret, u.read_factors())


def test_password_and_code(sshd, module, ssh_user):
    server = sshd(stack(module))
    r = login(server, ssh_user, [code(ssh_user)])
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert ("OUTPUT", "LOGGED-IN-MARKER") in r.lines, r
    assert r.prompts[:2] == ["Password: ", "Verification code: "], r
    assert "last-step=" in ssh_user.read_factors()


def test_wrong_code_refused(sshd, module, ssh_user):
    server = sshd(stack(module))
    r = login(server, ssh_user, [wrong_code(ssh_user.secret)])
    assert r.rc != 0 and r.result.startswith("FAILED"), r
    assert has_code_prompt(r), r
    assert "Wrong code." in r.messages, r
    assert "LOGGED-IN-MARKER" not in r.stdout
    assert failure_count(ssh_user.read_factors()) == 1


def test_wrong_password_right_code_refused(sshd, module, ssh_user):
    server = sshd(stack(module))
    r = login(server, ssh_user, [code(ssh_user)], password="wrong")
    assert r.rc != 0 and r.result.startswith("FAILED"), r


def test_trust_revoke(sshd, module, ssh_user):
    server = sshd(stack(module))
    r = login(server, ssh_user, [code(ssh_user)], trust="y")
    assert r.rc == 0, r
    assert any(p.startswith("Don't ask for codes on this device for 30 days?") for p in r.prompts), r
    (rec,) = records(ssh_user.read_factors(), "trust")
    assert (rec["service"], rec["rhost"]) == (server.service, "127.0.0.1"), rec

    r = login(server, ssh_user)  # no code given: a code prompt would abort the login
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert not has_code_prompt(r) and r.prompts == ["Password: "], r

    # Revoke: remove the trust line (what `twostep trust revoke --all` does).
    text = ssh_user.read_factors()
    ssh_user.write_factors("".join(l + "\n" for l in text.splitlines() if not l.startswith("trust ")))
    r = login(server, ssh_user)
    assert r.rc != 0 and has_code_prompt(r), r
    r = login(server, ssh_user, [code(ssh_user)])
    assert r.rc == 0 and has_code_prompt(r), r


def test_openssh_client(sshd, module, ssh_user):
    """The real ssh client (what a person sees): password, then the code."""
    server = sshd(stack(module))
    r = login(server, ssh_user, [code(ssh_user)], client="openssh")
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert [p for p in r.prompts if "code" in p.lower()], r


def test_key_and_code(sshd, module, ssh_user, tmp_path):
    key_a, pub_a, fp_a = ssh_keypair(str(tmp_path), "user_a")
    key_b, pub_b, fp_b = ssh_keypair(str(tmp_path), "user_b")
    ssh_dir = os.path.join(ssh_user.home, ".ssh")
    os.makedirs(ssh_dir, mode=0o700)
    with open(os.path.join(ssh_dir, "authorized_keys"), "w") as f:
        f.write(pub_a + "\n" + pub_b + "\n")
    for p in (ssh_dir, os.path.join(ssh_dir, "authorized_keys")):
        os.chown(p, ssh_user.uid, ssh_user.gid)
    # The key is the first factor: the stack holds only the second.
    server = sshd(stack(module, first=""), auth="key+kbdint")

    r = login(server, ssh_user, [code(ssh_user)], password=None, key=key_a, trust="y")
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert any("publickey accepted" in t for k, t in r.lines if k == "AUTH"), r
    assert "Password: " not in r.prompts and has_code_prompt(r), r
    (rec,) = records(ssh_user.read_factors(), "trust")
    assert rec["key"] == fp_a and fp_a.startswith("SHA256:"), (rec, fp_a)
    assert rec["rhost"] == "127.0.0.1" and rec["service"] == server.service, rec

    r = login(server, ssh_user, password=None, key=key_a)
    assert r.rc == 0 and not has_code_prompt(r), r
    r = login(server, ssh_user, password=None, key=key_b)  # another key: asked again
    assert r.rc != 0 and has_code_prompt(r), r
    r = login(server, ssh_user, [code(ssh_user)], password=None)  # no key: refused before PAM
    assert r.rc != 0, r
