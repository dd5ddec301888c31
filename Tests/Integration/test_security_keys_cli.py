"""Issue 21: enrolling and listing security keys (SPEC §11) with the real
`twostep` CLI and twostepd.

Keys are real OpenSSH FIDO keys made with OpenSSH's sk-dummy provider
(securitykeys.py), their fingerprints what `ssh-keygen -lf` prints. Each
refusal checks that nothing was written: the record holds no `sshkey` line.
"""

import json
import os
import shutil
import tempfile

import pytest

from fleet import Fleet, code_at
from harness import current_step
from pamtest import pamdriver, pam  # noqa: F401 (fixtures)
from securitykeys import install_authorized_keys, make_key, sk_provider  # noqa: F401 (fixture)
from test_cli import CLI, SECRET, totp
from test_daemon_manage import Daemon, User as DaemonUser, daemon, root_dir, varlink_call  # noqa: F401 (fixture)


def user_key(user, sk, name, kind="ed25519-sk"):
    """A key made in the user's home (its files the user's, as ssh-keygen run by them leaves them)."""
    k = make_key(user.home, name, kind, sk=sk if kind.endswith("-sk") else None)
    for path in (k.private, k.private + ".pub"):
        os.chown(path, user.uid, user.gid)
    return k


def record(cli_):
    with open(cli_.path) as f:
        return f.read()


def keys(cli_):
    code, status = cli_.status()
    assert code == 0
    return status["security_keys"]


@pytest.fixture(name="cli")
def cli_fixture(test_user):
    return CLI(test_user)


# Enrolment, and what status and report show

def test_add_key_from_a_pub_file_listed_with_the_ssh_keygen_fingerprint(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    k = user_key(cli.user, sk_provider, "yubikey")
    r = cli.run("add", "key", k.private + ".pub", "--code", codes[0])
    assert r.returncode == 0, r.stderr
    assert "key-1" in r.stdout and k.fingerprint in r.stdout
    [entry] = keys(cli)
    assert entry["fingerprint"] == k.fingerprint
    assert (entry["id"], entry["type"], entry["label"], entry["last_used"]) == ("key-1", k.type, "yubikey", None)
    assert isinstance(entry["created"], int)
    assert f"sshkey id=key-1 type={k.type} key={k.base64.rstrip('=')}" in record(cli)
    text = cli.run("status").stdout
    assert k.fingerprint in text and "ED25519-SK" in text and "never used" in text
    # report: a keys column (text) and "keys" (JSON)
    report = json.loads(cli.run("report", "--json", root=True).stdout)
    [row] = [a for a in report["accounts"] if a["user"] == cli.user.name]
    assert row["keys"] == 1
    lines = cli.run("report", root=True).stdout.splitlines()
    header = lines[0].split()
    assert "KEYS" in header
    [line] = [l for l in lines if l.startswith(cli.user.name + " ")]
    assert line.split()[header.index("KEYS")] == "1"


def test_add_key_from_standard_input_with_a_label(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    k = user_key(cli.user, sk_provider, "ec", "ecdsa-sk")
    r = cli.run("add", "key", "-", "--label", "Desk key", "--code", codes[0], stdin=k.line + "\n")
    assert r.returncode == 0, r.stderr
    [entry] = keys(cli)
    assert (entry["fingerprint"], entry["label"], entry["type"]) == (k.fingerprint, "Desk key", "sk-ecdsa-sha2-nistp256@openssh.com")


def test_add_key_from_authorized_keys_asks_which(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    plain = user_key(cli.user, sk_provider, "plain", "ed25519")
    a = user_key(cli.user, sk_provider, "first")
    b = user_key(cli.user, sk_provider, "second")
    install_authorized_keys(cli.user, [plain.line, "verify-required " + a.line, b.line])
    r = cli.run("add", "key", "--from-authorized-keys", "--code", codes[0], stdin="2\n")
    assert r.returncode == 0, r.stderr
    # The list: numbered, type, fingerprint, comment; the plain key is not offered.
    assert f"1  ED25519-SK  {a.fingerprint}  first" in r.stderr
    assert f"2  ED25519-SK  {b.fingerprint}  second" in r.stderr
    assert plain.fingerprint not in r.stderr
    assert [(e["fingerprint"], e["label"]) for e in keys(cli)] == [(b.fingerprint, "second")]
    # A number out of range: a usage error, nothing added.
    r = cli.run("add", "key", "--from-authorized-keys", "--code", codes[1], stdin="3\n")
    assert r.returncode == 2 and "not a number from 1 to 2" in r.stderr
    assert f"2  ED25519-SK  {b.fingerprint}  second  (enrolled as key-1)" in r.stderr
    # --fingerprint: scripted
    r = cli.run("add", "key", "--from-authorized-keys", "--fingerprint", a.fingerprint, "--code", codes[1])
    assert r.returncode == 0, r.stderr
    assert [e["fingerprint"] for e in keys(cli)] == [b.fingerprint, a.fingerprint]
    r = cli.run("add", "key", "--from-authorized-keys", "--fingerprint", plain.fingerprint, "--code", codes[2])
    assert r.returncode == 2 and "has the fingerprint" in r.stderr


def test_add_key_from_authorized_keys_all_in_one_change(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    a = user_key(cli.user, sk_provider, "one")
    b = user_key(cli.user, sk_provider, "two", "ecdsa-sk")
    install_authorized_keys(cli.user, [a.line, b.line])
    r = cli.run("add", "key", "--from-authorized-keys", "--all", "--code", codes[0])
    assert r.returncode == 0, r.stderr
    assert [(e["id"], e["fingerprint"]) for e in keys(cli)] == [("key-1", a.fingerprint), ("key-2", b.fingerprint)]
    # One code authorised both: 9 backup codes left.
    assert cli.status()[1]["backup_codes_left"] == 9
    r = cli.run("add", "key", "--from-authorized-keys", "--all", "--code", codes[1])
    assert r.returncode == 2 and "enrolled already" in r.stderr


def test_authorized_keys_without_a_security_key_is_a_clear_error(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    plain = user_key(cli.user, sk_provider, "plain", "ed25519")
    install_authorized_keys(cli.user, [plain.line])
    r = cli.run("add", "key", "--from-authorized-keys", "--all", "--code", codes[0])
    assert r.returncode == 2 and "holds no security key" in r.stderr
    assert "sshkey" not in record(cli)


def test_root_with_user_needs_no_code_and_reads_as_the_user(cli, sk_provider):
    cli.enroll()
    k = user_key(cli.user, sk_provider, "rootadded")
    install_authorized_keys(cli.user, [k.line])
    r = cli.run("add", "key", "--user", cli.user.name, "--from-authorized-keys", "--all", root=True, stdin=None)
    assert r.returncode == 0, r.stderr
    assert [e["fingerprint"] for e in keys(cli)] == [k.fingerprint]
    # A file the user cannot read is not read for them by root.
    secret_dir = tempfile.mkdtemp(prefix="twostep-rootonly-")
    try:
        other = make_key(secret_dir, "other", sk=sk_provider)
        r = cli.run("add", "key", "--user", cli.user.name, other.private + ".pub", root=True)
        assert r.returncode == 3 and "Permission denied" in r.stderr, r.stderr
        # Nor through a symbolic link in the user's home.
        link = os.path.join(cli.user.home, ".ssh", "authorized_keys")
        os.unlink(link)
        os.symlink(other.private + ".pub", link)
        r = cli.run("add", "key", "--user", cli.user.name, "--from-authorized-keys", "--all", root=True)
        assert r.returncode == 3 and "symbolic link" in r.stderr, r.stderr
    finally:
        shutil.rmtree(secret_dir)
    assert [e["fingerprint"] for e in keys(cli)] == [k.fingerprint]


# Refusals: nothing written

def test_refusals_write_nothing(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    plain = user_key(cli.user, sk_provider, "plain", "ed25519")
    before = record(cli)
    r = cli.run("add", "key", plain.private + ".pub", "--code", codes[0])
    assert r.returncode == 2 and "'ssh-ed25519' is not a security key type" in r.stderr
    r = cli.run("add", "key", "-", "--code", codes[0], stdin="sk-ssh-ed25519@openssh.com AAAAC3NzaC1lZDI1NTE5 x\n")
    assert r.returncode == 2 and "standard input:" in r.stderr
    r = cli.run("add", "key", "-", "--code", codes[0], stdin="sk-ssh-ed25519@openssh.com " + "A" * (1 << 20) + "\n")
    assert r.returncode == 2 and "larger than 64 KiB" in r.stderr
    assert record(cli) == before
    # A wrong code: refused (exit 1), counted as a failure, no key.
    k = user_key(cli.user, sk_provider, "k")
    r = cli.run("add", "key", k.private + ".pub", "--code", "abcd-efgh-jk")
    assert r.returncode == 1
    assert "sshkey" not in record(cli) and cli.status()[1]["failures"] == 1
    # A duplicate: refused naming the id and fingerprint, and the code is not spent.
    assert cli.run("add", "key", k.private + ".pub", "--code", codes[0]).returncode == 0
    r = cli.run("add", "key", "-", "--label", "again", "--code", codes[1], stdin=k.line)
    assert r.returncode == 2 and f"the key {k.fingerprint} is enrolled already, as 'key-1'" in r.stderr
    assert cli.status()[1]["backup_codes_left"] == 9


def test_a_key_needs_a_backup_method(test_user, sk_provider):
    cli_ = CLI(test_user)
    codes = cli_.enroll("--backup-codes", "1")["backup_codes"]
    assert cli_.run("verify", "--code", codes[0]).returncode == 0  # the last backup code, spent
    k = user_key(test_user, sk_provider, "k")
    r = cli_.run("add", "key", k.private + ".pub", "--code", totp(SECRET, 30))
    assert r.returncode == 2 and "make backup codes" in r.stderr, r.stderr
    assert "sshkey" not in record(cli_)


def test_security_key_enrol_root_refuses_a_user_but_not_root(cli, sk_provider):
    config = os.path.join(root_dir(tempfile.mkdtemp(prefix="twostep-conf-")), "twostep.conf")
    os.chmod(os.path.dirname(config), 0o755)
    with open(config, "w") as f:
        f.write("security_key_enrol=root\n")
    os.chmod(config, 0o644)
    try:
        env = {"TWOSTEP_CONFIG": config}
        as_user = CLI(cli.user, env=env)
        codes = as_user.enroll()["backup_codes"]
        k = user_key(cli.user, sk_provider, "k")
        r = as_user.run("add", "key", k.private + ".pub", "--code", codes[0])
        assert r.returncode == 2 and "security_key_enrol=root" in r.stderr, r.stderr
        assert "sshkey" not in record(cli)
        r = as_user.run("add", "key", "--user", cli.user.name, k.private + ".pub", root=True)
        assert r.returncode == 0, r.stderr
        assert [e["fingerprint"] for e in keys(as_user)] == [k.fingerprint]
    finally:
        shutil.rmtree(os.path.dirname(config))


# Removal

def test_remove_a_key_and_the_last_backup_method_while_keys_remain(cli, sk_provider):
    codes = cli.enroll()["backup_codes"]
    k = user_key(cli.user, sk_provider, "k")
    assert cli.run("add", "key", k.private + ".pub", "--code", codes[0]).returncode == 0
    r = cli.run("remove", "key-1", "--code", codes[1])
    assert r.returncode == 0, r.stderr
    assert keys(cli) == [] and "sshkey" not in record(cli)
    # A phone as the only backup method (no backup codes), and a key:
    # the phone cannot be removed while the key remains.
    assert cli.run("add", "key", k.private + ".pub", "--code", codes[2]).returncode == 0
    text = "".join(l + "\n" for l in record(cli).splitlines() if not l.startswith("backup "))
    text += "phone id=phone-1 number=+966501234534 channel=sms label=Mobile created=1764220800\n"
    cli.user.write_factors(text)
    r = cli.run("remove", "phone-1", "--code", totp(SECRET, 30))
    assert r.returncode == 2 and "you would have no backup method" in r.stderr, r.stderr
    assert "phone-1" in record(cli)
    # The refusal wrote nothing, so its code was not spent: it removes the key.
    r = cli.run("remove", "key-1", "--code", totp(SECRET, 30))
    assert r.returncode == 0, r.stderr
    assert cli.run("remove", "phone-1", "--user", cli.user.name, root=True).returncode == 0
    assert "phone-1" not in record(cli)


# Through twostepd: an ordinary user of a root-owned store

def test_user_enrols_a_key_through_twostepd(daemon, users, sk_provider):
    user = DaemonUser(daemon, users.make(password="pw"))
    codes = user.enroll()["backup_codes"]
    k = user_key(user.account, sk_provider, "viadaemon")
    r = user.run("add", "key", k.private + ".pub", "--code", codes[0])
    assert r.returncode == 0, r.stderr + daemon.logtext()
    with open(daemon.record(user)) as f:
        assert f"sshkey id=key-1 type={k.type}" in f.read()
    [entry] = keys(user)
    assert (entry["fingerprint"], entry["label"]) == (k.fingerprint, "viadaemon")
    assert "AddSecurityKey" in daemon.logtext()
    # A non-sk key is refused by twostepd itself as well (the CLI's check aside).
    plain = user_key(user.account, sk_provider, "plain", "ed25519")
    reply = varlink_call(os.path.join(daemon.sockets, "io.twostep.Manage"), "io.twostep.Manage.AddSecurityKey",
                         {"key": plain.line, "label": "p", "code": codes[1]}, uid=user.account.uid)
    assert reply.get("error") == "io.twostep.Manage.UsageError", reply
    assert "is not a security key type" in reply["parameters"]["message"]
    r = user.run("remove", "key-1", "--code", codes[1])
    assert r.returncode == 0, r.stderr
    assert keys(user) == []
    # --all: several keys in one call (AddSecurityKey's "more"), one code.
    other = user_key(user.account, sk_provider, "other", "ecdsa-sk")
    install_authorized_keys(user.account, [k.line, plain.line, other.line])
    r = user.run("add", "key", "--from-authorized-keys", "--all", "--code", codes[2])
    assert r.returncode == 0, r.stderr + daemon.logtext()
    assert [(e["fingerprint"], e["label"]) for e in keys(user)] == [(k.fingerprint, "viadaemon"), (other.fingerprint, "other")]
    assert user.status()[1]["backup_codes_left"] == 7


def test_security_key_enrol_root_through_twostepd(daemon_bin, users, sk_provider):
    top = root_dir(tempfile.mkdtemp(prefix="twostepd-test-", dir="/var/tmp"))
    d = Daemon(daemon_bin, top, extra_config="security_key_enrol=root\n").start()
    try:
        user = DaemonUser(d, users.make(password="pw"))
        codes = user.enroll()["backup_codes"]
        k = user_key(user.account, sk_provider, "k")
        r = user.run("add", "key", k.private + ".pub", "--code", codes[0])
        assert r.returncode == 2 and "security_key_enrol=root" in r.stderr, r.stderr
        with open(d.record(user)) as f:
            assert "sshkey" not in f.read()
        r = user.run("add", "key", "--user", user.name, k.private + ".pub", root=True)
        assert r.returncode == 0, r.stderr
        assert [e["fingerprint"] for e in keys(user)] == [k.fingerprint]
    finally:
        d.stop()
        shutil.rmtree(top, ignore_errors=True)


# Fleet mode: a key enrolled on one host is the fleet's

def test_fleet_key_enrolled_on_host_1_is_listed_on_host_2(daemon_bin, pam, users, sk_provider):
    with Fleet(daemon_bin, pam, hosts=2, extra="window=10\n") as fleet:
        u = users.make()
        r = fleet.hosts[0].cli("enroll", "--secret", SECRET, "--code", code_at(current_step()), "--json", user=u.name)
        assert r.returncode == 0, r.stderr + fleet.hosts[0].logtext()
        codes = json.loads(r.stdout)["backup_codes"]
        k = user_key(u, sk_provider, "fleetkey")
        r = fleet.hosts[0].cli("add", "key", k.private + ".pub", "--code", codes[0], user=u.name)
        assert r.returncode == 0, r.stderr + fleet.hosts[0].logtext()
        r = fleet.hosts[1].cli("status", "--json", user=u.name)
        assert r.returncode == 0, r.stderr
        assert [(e["id"], e["fingerprint"]) for e in json.loads(r.stdout)["security_keys"]] == [("key-1", k.fingerprint)]
        assert "sshkey id=key-1" in fleet.pg.record(u.name)
