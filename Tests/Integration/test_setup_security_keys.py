"""`twostep setup sshd --security-keys touch|verify` (SPEC §11), replacing
a set-up in force with other options in one step, and `setup --status`'s
error when twostep.conf's security_keys= promises more than sshd -T shows.
Against a real sshd in test_setup.py's Machine rig (a private mount
namespace; /etc an overlay, so /etc/twostep/twostep.conf is the test's)."""

import os
import re
import subprocess
import sys

import pytest

from pamtest import *  # noqa: F401,F403
from securitykeys import sk_provider  # noqa: F401 (a fixture)
from test_setup import CONF, login, machine, wait_for  # noqa: F401 (machine is a fixture)


# --- Security keys (SPEC §11): --security-keys, replacing a set-up, --status --------

def sighups(m):
    """How many times sshd has re-executed itself on SIGHUP (its log)."""
    return m.sshd_log().count("Received SIGHUP")


def key_machine(machine, tmp_path, before=""):
    """A machine where root logs in with a key (from /etc/ssh/keys/root;
    PermitRootLogin yes, so the code step is allowed and nullok lets root
    through): the confirmation of a publickey set-up. Returns (machine, root's key)."""
    key, pub, _ = ssh_keypair(str(tmp_path), "root_key")
    m = machine(before="AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\n" + before)
    m.give_key("root", pub)
    return m.start(), key


def confirm_with_key(m, key, marker="Confirmed:"):
    return login(m, "root", password=None, key=key, command=f"{m.twostep} setup --confirm", marker=marker)


@pytest.mark.parametrize("existing,expected", [
    (None, r"# twostep setup sshd --security-keys verify .*\nsecurity_keys=verify\n"),
    ("# the site's own\nwindow=2\n", r"# the site's own\nwindow=2\n# twostep setup sshd --security-keys verify .*\nsecurity_keys=verify\n"),
    ("window=2\n security_keys = off\n# end", r"window=2\nsecurity_keys=verify\n# end\n"),
])
def test_security_keys_verify_applies_and_undo_restores(machine, tmp_path, existing, expected):
    """--security-keys verify: PubkeyAuthOptions in the drop-in (sshd -T
    shows verify-required, and touch-required: verify is a PIN *as well as*
    a touch), security_keys=verify in twostep.conf (made, with /etc/twostep,
    when missing; else one line added); --undo: both byte for byte, or gone."""
    m, key = key_machine(machine, tmp_path)
    if existing is not None:
        os.makedirs(m.inside("/etc/twostep"), exist_ok=True)
        with open(m.inside(CONF), "w") as f:
            f.write(existing)
        os.chmod(m.inside(CONF), 0o640)
    before, conf_before = m.exact(), m.conf()
    assert "verify-required" not in m.effective()["pubkeyauthoptions"]

    p = m.setup("sshd", "--method", "publickey", "--security-keys", "verify", "--force")
    assert p.returncode == 0, p
    assert m.effective()["pubkeyauthoptions"] == "touch-required verify-required"
    assert "PubkeyAuthOptions touch-required verify-required\n" in m.read("etc/ssh/sshd_config.d/twostep.conf")
    conf, _ = m.conf()
    assert conf is not None, p
    text = conf[0].decode()
    assert re.fullmatch(expected, text), text
    if existing is None:
        assert conf[1] & 0o777 == 0o644 and conf[2] == 0, conf
        assert "(a new file)" in p.stdout, p
    else:
        assert conf[1] & 0o777 == 0o640, conf
    state = m.state()
    assert "security-keys verify\n" in state and f"{CONF}\n" in state, state
    s = m.setup("--status")
    assert s.returncode == 0 and "--security-keys verify" in s.stdout, s
    assert confirm_with_key(m, key).rc == 0  # a key login, then the code step (nullok for root)

    u = m.setup("--undo")
    assert u.returncode == 0, u
    assert m.exact() == before and m.conf() == conf_before
    assert m.effective()["pubkeyauthoptions"] == "none"
    assert m.state() is None


@pytest.mark.parametrize("asked,block,refused", [
    ("verify", "PubkeyAuthOptions none", True),
    ("touch", "PubkeyAuthOptions none", True),
    ("verify", "PubkeyAuthOptions touch-required", True),
    ("touch", "PubkeyAuthOptions touch-required", False),
])
def test_security_keys_refuse_match_block_that_weakens(machine, tmp_path, asked, block, refused):
    """A Match block's PubkeyAuthOptions wins for the connections it
    matches: one that takes a flag away is refused before anything is
    written (exit 3), naming the file and line; one that keeps them warns."""
    m = machine()
    m.write("etc/ssh/sshd_config", m.read("etc/ssh/sshd_config") + f"Match User nobody\n    {block}\n")
    number = m.read("etc/ssh/sshd_config").splitlines().index(f"    {block}") + 1
    m.start()
    states, conf = m.states(), m.conf()
    p = m.setup("sshd", "--method", "publickey", "--security-keys", asked, "--force")
    if refused:
        assert p.returncode == 3, p
        assert f"/etc/ssh/sshd_config line {number}: '{block}'" in p.stderr, p
        assert "Match block weakens PubkeyAuthOptions" in p.stderr and "Nothing was changed" in p.stderr, p
        assert m.states() == states and m.conf() == conf and m.state() is None
    else:
        assert p.returncode == 0 and "warning" in p.stderr and f"'{block}' is in a Match block" in p.stderr, p
        assert m.setup("--undo").returncode == 0
        assert m.states().keys() == states.keys() and m.conf() == conf


@pytest.mark.parametrize("args", [
    ["--method", "password", "--security-keys", "touch"],
    ["--method", "publickey", "--security-keys", "off"],
    ["--method", "publickey", "--security-keys", "yes"],
])
def test_security_keys_usage_errors(machine, args):
    m = machine().start()
    states, conf = m.states(), m.conf()
    p = m.setup("sshd", *args, "--force")
    assert p.returncode == 2, p
    assert ("goes with --method publickey" if "password" in args else "--security-keys: touch or verify") in p.stderr, p
    assert m.states() == states and m.conf() == conf and m.state() is None


def test_rerun_with_other_options_replaces_in_one_step(machine, tmp_path):
    """setup sshd again with other options, pending or confirmed: the
    previous set-up's changes are taken back and the new ones made with one
    reload and one new confirmation; --undo then goes back to the files as
    they were before either. The same options again: 'already set up' (2)."""
    m, key = key_machine(machine, tmp_path)
    before, conf_before = m.exact(), m.conf()

    assert m.setup("sshd", "--method", "publickey", "--force").returncode == 0
    first = m.state()
    assert confirm_with_key(m, key).rc == 0
    again = m.setup("sshd", "--method", "publickey", "--force")
    assert again.returncode == 2 and "already set up" in again.stderr, again

    reloads = sighups(m)
    p = m.setup("sshd", "--method", "publickey", "--security-keys", "touch", "--force")
    assert p.returncode == 0, p
    assert "is replaced" in p.stdout and "twostep setup --confirm" in p.stdout, p
    assert wait_for(lambda: sighups(m) == reloads + 1, 10) and sighups(m) == reloads + 1, m.sshd_log()
    state = m.state()
    assert "phase pending" in state and "security-keys touch" in state, state
    token = lambda text: re.search(r"^token (\S+)$", text, re.M).group(1)
    assert token(state) != token(first)
    assert m.effective()["pubkeyauthoptions"] == "touch-required"
    assert m.conf()[0][0].decode().endswith("security_keys=touch\n")
    pam = m.read("etc/pam.d/sshd")
    assert pam.count("pam_twostep") == 1 and pam.count("#@include common-auth") == 1, pam  # not edited twice
    assert "confirmed-by" not in state  # one new confirmation is due
    assert confirm_with_key(m, key).rc == 0

    # Pending, replaced again, without keys: twostep.conf goes (setup had made it).
    assert m.setup("sshd", "--method", "publickey", "--security-keys", "verify", "--force").returncode == 0
    p = m.setup("sshd", "--method", "password", "--force")
    assert p.returncode == 0 and "is replaced" in p.stdout, p
    assert m.conf() == conf_before and "pam_twostep" in m.read("etc/pam.d/sshd")
    assert m.effective()["pubkeyauthoptions"] == "none"
    assert m.setup("--undo").returncode == 0
    assert m.exact() == before and m.conf() == conf_before


def test_failed_replace_leaves_the_previous_set_up(machine):
    """The new set-up fails after writing (sshd -t: publickey with
    PubkeyAuthentication no): the previous one is back as it was, files,
    state and a running undo timer for its own deadline."""
    m = machine(before="PubkeyAuthentication no").start()
    before, conf_before = m.exact(), m.conf()
    assert m.setup("sshd", "--method", "password", timeout=60).returncode == 0
    after, state = m.exact(), m.state()
    deadline = re.search(r"^deadline (\d+)$", state, re.M).group(1)

    p = m.setup("sshd", "--method", "publickey", "--security-keys", "verify", "--force")
    assert p.returncode == 3, p
    assert "sshd -t refuses" in p.stderr and "is back as it was" in p.stderr, p
    assert m.exact() == after and m.conf() == conf_before
    now = m.state()
    without_timer = lambda text: [line for line in text.splitlines() if not line.startswith("timer ")]
    assert without_timer(now) == without_timer(state), now
    pid = int(re.search(r"^timer process (\d+) ", now, re.M).group(1))
    assert pid in m.processes()
    s = m.setup("--status")
    assert s.returncode == 0 and "Pending: not confirmed yet" in s.stdout and "is not running" not in s.stdout, s
    assert f"deadline {deadline}\n" in now
    assert m.setup("--undo").returncode == 0
    assert m.exact() == before


def test_status_reports_key_policy_stronger_than_sshd(machine, tmp_path):
    """security_keys= in twostep.conf lets an enrolled key replace the code
    because sshd requires the touch (and PIN): --status is an error (exit 3)
    when sshd -T does not show it, or a Match block takes it away."""
    m, key = key_machine(machine, tmp_path)
    assert m.setup("sshd", "--method", "publickey", "--security-keys", "verify", "--force").returncode == 0
    assert confirm_with_key(m, key).rc == 0
    s = m.setup("--status")
    assert s.returncode == 0 and "pubkeyauthoptions touch-required verify-required" in s.stdout, s

    config = m.read("etc/ssh/sshd_config")
    m.write("etc/ssh/sshd_config", config.replace("Include /etc/ssh", "PubkeyAuthOptions touch-required\nInclude /etc/ssh", 1))
    s = m.setup("--status")
    assert s.returncode == 3, s
    assert "Confirmed at" in s.stdout, s  # the report, then the error
    assert "security_keys=verify" in s.stderr and "'pubkeyauthoptions touch-required'" in s.stderr, s
    assert "does not require verify-required" in s.stderr, s

    m.write("etc/ssh/sshd_config", config + "Match User nobody\n    PubkeyAuthOptions none\n")
    number = len(config.splitlines()) + 2
    s = m.setup("--status")
    assert s.returncode == 3 and f"/etc/ssh/sshd_config line {number}: 'PubkeyAuthOptions none' is in a Match block" in s.stderr, s
    assert "'pubkeyauthoptions " not in s.stderr, s  # sshd -T itself is fine

    m.write("etc/ssh/sshd_config", config)
    assert m.setup("--status").returncode == 0
    assert m.setup("--undo").returncode == 0
    assert m.setup("--status").returncode == 0


def test_security_keys_touch_is_what_sshd_enforces(machine, users, sk_provider, tmp_path):
    """What the drop-in's PubkeyAuthOptions is for, with real security keys
    (sk-dummy.so, no hardware): a key made without user presence logs in
    today through its authorized_keys option no-touch-required; after
    --security-keys touch sshd refuses it, and a key with a touch still
    passes (then the code step; nullok: not enrolled)."""
    from securitykeys import Agent, install_authorized_keys, make_key
    touch = make_key(str(tmp_path), "touch", "ed25519-sk", sk=sk_provider)
    lazy = make_key(str(tmp_path), "lazy", "ed25519-sk", no_touch_required=True, sk=sk_provider)
    user = users.make()
    install_authorized_keys(user, [touch.line, "no-touch-required " + lazy.line])
    m = machine().start()

    def key_login(key):
        args = [sys.executable, SSH_LOGIN, "--client", "openssh", "--port", str(m.port), "--user", user.name,
                "--key", key.private, "--command", "echo LOGGED-IN-MARKER", "--timeout", "30"]
        with Agent(sk_provider) as agent:
            agent.add(key)
            r = SSHLogin(subprocess.run(args, env=agent.env, capture_output=True, text=True, timeout=90))
        print(f"$ ssh_login.py --client openssh --key {os.path.basename(key.private)}{r!r}")
        return r

    assert key_login(lazy).rc == 0  # no-touch-required in authorized_keys: no touch needed today
    p = m.setup("sshd", "--method", "publickey", "--security-keys", "touch", "--force")
    assert p.returncode == 0, p
    r = key_login(lazy)
    assert r.rc != 0, r
    assert "user presence (authenticator touch) requirement not met" in m.sshd_log(), m.sshd_log()
    r = key_login(touch)
    assert r.rc == 0 and "LOGGED-IN-MARKER" in r.output, r
    assert f"Partial publickey for {user.name}" in m.sshd_log()  # then keyboard-interactive: the code step
    assert m.setup("--undo").returncode == 0
    assert key_login(lazy).rc == 0
