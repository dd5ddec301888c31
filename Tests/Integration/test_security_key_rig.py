"""The security-key test rig (securitykeys.py) against a real sshd
(sshd.sh) and the real ssh client (ssh_login.py --client openssh, keys in
ssh-agent with sk-dummy.so): what sshd enforces under `PubkeyAuthOptions
verify-required`, and what PAM sees of the key in SSH_AUTH_INFO_0, in the
form TwoStepCore's SSHAuthInfo parses (SPEC §11). No twostep code runs
here: this pins down the ground the security-key factor stands on."""

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys

import pytest

import securitykeys
from pamtest import SSH_LOGIN, HERE, SSHLogin, free_port
from securitykeys import Agent, install_authorized_keys, make_key, sk_provider  # noqa: F401 (sk_provider is a fixture)

SSHD_SH = str(HERE / "sshd.sh")

# pam_exec runs this in each stack: it keeps SSH_AUTH_INFO_0 exactly as
# the module would get it (or notes that it was unset), one file per call.
CAPTURE = r"""#!/bin/sh
dir=$(dirname "$0")/captured
n=$(ls "$dir" | wc -l)
f=$dir/$(printf %03d "$n").$PAM_TYPE
if [ "${SSH_AUTH_INFO_0+set}" = set ]; then printf '%s' "$SSH_AUTH_INFO_0" > "$f"; else : > "$f.unset"; fi
exit 0
"""


class CaptureServer:
    """A private sshd with `AuthenticationMethods publickey,keyboard-interactive`,
    `PubkeyAuthOptions verify-required` and a PAM stack that records
    SSH_AUTH_INFO_0 in auth, account and session."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.service = f"twostep-it-{secrets.token_hex(3)}"
        self.captured_dir = os.path.join(directory, "captured")

    def start(self):
        os.makedirs(self.captured_dir)
        script = os.path.join(self.dir, "capture")
        with open(script, "w") as f:
            f.write(CAPTURE)
        os.chmod(script, 0o700)
        stack = os.path.join(self.dir, "stack")
        with open(stack, "w") as f:
            for kind in ("auth", "account", "session"):
                f.write(f"{kind} required pam_exec.so quiet {script}\n{kind} required pam_permit.so\n")
            f.write("password required pam_deny.so\n")
        self.sshd_dir = os.path.join(self.dir, "sshd")
        os.makedirs(self.sshd_dir)
        env = dict(os.environ, SSHD_DIR=self.sshd_dir, SSHD_PORT=str(self.port), SSHD_SERVICE=self.service,
                   SSHD_PAM_STACK=stack, SSHD_AUTH="key+kbdint", SSHD_EXTRA="PubkeyAuthOptions verify-required")
        p = subprocess.run(["bash", SSHD_SH, "start"], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"sshd.sh start failed:\n{p.stdout}\n{p.stderr}\n{self.log}"
        return self

    def stop(self):
        subprocess.run(["bash", SSHD_SH, "stop", self.sshd_dir], capture_output=True, timeout=60)

    @property
    def log(self):
        try:
            return open(os.path.join(self.sshd_dir, "sshd.log")).read()
        except (OSError, AttributeError):
            return ""

    def captured(self):
        """[(pam_type, value or None when unset)] in the order the stacks ran."""
        out = []
        for name in sorted(os.listdir(self.captured_dir)):
            _, pam_type, *unset = name.split(".")
            out.append((pam_type, None if unset else open(os.path.join(self.captured_dir, name)).read()))
        return out

    def login(self, user, key, agent):
        args = [sys.executable, SSH_LOGIN, "--client", "openssh", "--port", str(self.port), "--user", user.name,
                "--key", key.private, "--command", "echo LOGGED-IN-MARKER", "--timeout", "30"]
        r = SSHLogin(subprocess.run(args, env=agent.env, capture_output=True, text=True, timeout=90))
        print(f"$ ssh_login.py ... --key {os.path.basename(key.private)}{r!r}")
        return r


@pytest.fixture
def server(tmp_path):
    s = CaptureServer(str(tmp_path))
    try:
        yield s.start()
    finally:
        s.stop()
        assert not os.path.exists(f"/etc/pam.d/{s.service}"), "sshd_stop left the pam.d file"


def parse_auth_info(value):
    """SSH_AUTH_INFO_0 read as TwoStepCore's SSHAuthInfo reads it, strictly:
    [(method, submethod, key type, key blob, info)]. Fails on anything else."""
    assert len(value.encode()) <= 32 * 1024
    if value == "":
        return []
    assert value.endswith("\n"), f"no final newline: {value!r}"
    methods = []
    for line in value[:-1].split("\n"):
        assert re.fullmatch(r"[\x20-\x7e]+", line), f"empty, or not printable ASCII: {line!r}"
        head, _, rest = line.partition(" ")
        m = re.fullmatch(r"([A-Za-z0-9._@-]{1,64})(?:/([A-Za-z0-9._@-]{1,64}))?", head)
        assert m, f"not a method name: {head!r}"
        key_type = blob = None
        info = rest or None
        if m.group(1) in ("publickey", "hostbased"):
            key_type, b64, *more = rest.split(" ", 2)
            blob = base64.b64decode(b64, validate=True)
            assert base64.b64encode(blob).decode() == b64, "Base64 not canonical"
            n = int.from_bytes(blob[:4], "big")
            assert blob[4:4 + n].decode() == key_type, "the blob holds another key type"
            info = more[0] if more else None
        assert info is None or (info and info.strip(" ") == info), f"stray spaces: {line!r}"
        methods.append((m.group(1), m.group(2), key_type, blob, info))
    assert len(methods) <= 32
    return methods


def fingerprint(blob):
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def user_with_keys(users, keys, options=None):
    user = users.make()
    install_authorized_keys(user, [securitykeys.authorized_keys_line(k, options) for k in keys])
    return user


@pytest.mark.parametrize("kind", ["ed25519-sk", "ecdsa-sk"])
def test_security_key_verify_required_login_and_auth_info(server, users, sk_provider, tmp_path, kind):
    key = make_key(str(tmp_path), f"vr-{kind}", kind, verify_required=True, sk=sk_provider)
    assert key.type == securitykeys.SK_TYPES[kind] and key.fingerprint == fingerprint(key.blob)
    user = user_with_keys(users, [key])
    with Agent(sk_provider) as agent:
        agent.add(key)
        r = server.login(user, key, agent)
    # (a) sshd accepted the key under verify-required (sk-dummy sets the UV flag).
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    assert f"Partial publickey for {user.name} from 127.0.0.1" in server.log, server.log
    assert f"ssh2: {key.type_short} {key.fingerprint}" in server.log, server.log

    # (b) what PAM saw: the auth stack only the key; account the same; the
    # session stack the keyboard-interactive step too.
    captured = server.captured()
    print("captured SSH_AUTH_INFO_0:", captured)
    assert [t for t, _ in captured] == ["auth", "account", "open_session", "close_session"], captured
    key_line = f"publickey {key.type} {key.base64}\n"
    values = dict(captured)
    assert values["auth"] == key_line and values["account"] == key_line
    assert values["open_session"] == values["close_session"] == key_line + "keyboard-interactive/pam\n"
    (method,) = parse_auth_info(values["auth"])
    assert method == ("publickey", None, key.type, key.blob, None)
    assert fingerprint(method[3]) == key.fingerprint
    assert [m[:2] for m in parse_auth_info(values["open_session"])] == [("publickey", None), ("keyboard-interactive", "pam")]


def test_security_key_touch_only_refused_under_verify_required(server, users, sk_provider, tmp_path):
    touch = make_key(str(tmp_path), "touch", "ed25519-sk", sk=sk_provider)
    user = user_with_keys(users, [touch])
    with Agent(sk_provider) as agent:
        agent.add(touch)
        r = server.login(user, touch, agent)
    # (c) sshd refuses it before PAM runs.
    assert r.rc != 0 and r.result.startswith("FAILED"), r
    assert "user verification requirement not met" in server.log, server.log
    assert f"Partial publickey for {user.name}" not in server.log
    assert server.captured() == []


def test_security_key_per_key_verify_required_and_plain_keys(server, users, sk_provider, tmp_path):
    """verify-required governs sk keys only: a plain key still logs in (so
    an sk *type* alone can never be what twostep trusts), and PAM sees it
    in the same form."""
    plain = make_key(str(tmp_path), "plain", "ed25519")
    user = user_with_keys(users, [plain], options="verify-required")
    with Agent(sk_provider) as agent:
        agent.add(plain)
        r = server.login(user, plain, agent)
    assert r.rc == 0 and r.result == "LOGGED-IN", r
    values = dict(server.captured())
    assert values["auth"] == f"publickey ssh-ed25519 {plain.base64}\n"
    assert parse_auth_info(values["auth"])[0][2:4] == ("ssh-ed25519", plain.blob)


def test_security_key_provider_is_cached(sk_provider, monkeypatch):
    """A second provider() downloads nothing: the cached file is used as it is."""
    assert sk_provider == securitykeys.cached_provider_path() and os.path.isfile(sk_provider)

    def no_download(*args):
        raise AssertionError("provider() downloaded again")
    monkeypatch.setattr(securitykeys, "_download", no_download)
    assert securitykeys.provider() == sk_provider
