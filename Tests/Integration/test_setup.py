"""`twostep setup sshd` / `--confirm` / `--undo` / `--status` against a real
sshd on loopback, with real ssh logins (ssh_login.py, paramiko) and codes
from oathtool.

setup changes /etc/ssh and /etc/pam.d/sshd and keeps its state in
/var/lib/twostep-setup. So that the machine's own files are never touched,
each test runs setup and its sshd in a private mount namespace (a `sleep`
made with `unshare --mount` holds it; `nsenter` runs commands in it) in
which /etc is an overlay whose changes go to tmp_path (so setup can make
/etc/twostep/twostep.conf), and /etc/ssh, /etc/pam.d, /var/lib, /etc/passwd
and /etc/shadow are bind mounts of the test's own copies under tmp_path (passwd and shadow without the
tsmod-* accounts of other tests running at the same time, which setup would
otherwise count as accounts it locks out): a Debian 12 sshd_config (with a free
port on 127.0.0.1, its own host key and pid file, PermitRootLogin yes),
Debian 12's /etc/pam.d/sshd and common-auth, and a shadow file in which
root has a password (the confirmation comes from a new root login). sshd
runs as /usr/sbin/sshd -D -e (as Tests/Integration/sshd.sh runs it), so its
PAM service is "sshd" and setup works on exactly the paths it uses on a
real machine. Every process left in the namespace (sshd, the detached undo
timer) is killed at teardown.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from pamtest import *  # noqa: F401,F403

MARKER = "# twostep test machine"

SSHD_CONFIG = """\
{marker}: Debian 12's sshd_config (comments dropped), on a private port
Include /etc/ssh/sshd_config.d/*.conf
{before}
Port {port}
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile {pidfile}
LogLevel VERBOSE
UseDNS no
PermitRootLogin yes
AuthorizedKeysFile .ssh/authorized_keys
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
"""

# Debian 12's /etc/pam.d/sshd, comments shortened.
PAM_SSHD = """\
# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Standard Un*x authorization.
@include common-account

session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close
session    required     pam_loginuid.so
session    optional     pam_keyinit.so force revoke

# Standard Un*x session setup and teardown.
@include common-session
session    required     pam_limits.so
session    required     pam_env.so # [1]
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open

# Standard Un*x password updating.
@include common-password
"""

COMMON_AUTH = """\
auth	[success=1 default=ignore]	pam_unix.so nullok
auth	requisite			pam_deny.so
auth	required			pam_permit.so
"""

# sshd_config lines (for `before`, ahead of the defaults: the first value
# wins) that let root log in with a key from /etc/ssh/keys/root only, as
# Debian's default PermitRootLogin does.
ROOT_KEYS = "PermitRootLogin prohibit-password\nAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u"

# The files setup may change (setup sudo: /etc/pam.d/sudo too), and the one it must never change.
WATCHED = ("etc/ssh/sshd_config", "etc/ssh/sshd_config.d/twostep.conf", "etc/pam.d/sshd", "etc/pam.d/common-auth",
           "etc/pam.d/sudo")

# Each target's state directory under the machine's /var/lib (sshd's is the
# top one, where versions before per-target state kept their one state).
STATE_DIRS = {"sshd": "var/lib/twostep-setup", "sudo": "var/lib/twostep-setup/sudo"}


CONF = "/etc/twostep/twostep.conf"


def exact(path):
    """(bytes, mode, uid, gid) of a file, or None when there is none: what undo must bring back."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return open(path, "rb").read(), st.st_mode, st.st_uid, st.st_gid


class Machine:
    """The test's sshd and files in a private mount namespace (module docstring)."""

    def __init__(self, tmp_path, twostep, module, before="", users=None):
        self.root = tmp_path / "root"
        self.users = users
        self.twostep, self.module = twostep, module
        self.port = free_port()
        self.root_password = "root-" + secrets.token_hex(6)
        self.pidfile = str(tmp_path / "sshd.pid")
        self.log = str(tmp_path / "sshd.log")
        self.holder = self.sshd = None
        ssh = self.root / "etc/ssh"
        (ssh / "sshd_config.d").mkdir(parents=True)
        (self.root / "var/lib").mkdir(parents=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "ssh_host_ed25519_key")], check=True)
        self.write("etc/ssh/sshd_config",
                   SSHD_CONFIG.format(marker=MARKER, port=self.port, pidfile=self.pidfile, before=before))
        shutil.copytree("/etc/pam.d", self.root / "etc/pam.d", symlinks=True)
        self.write("etc/pam.d/sshd", PAM_SSHD)
        self.write("etc/pam.d/common-auth", COMMON_AUTH)
        os.chmod(tmp_path, 0o755)

    def path(self, relative):
        return str(self.root / relative)

    def write(self, relative, text, mode=0o644):
        with open(self.path(relative), "w") as f:
            f.write(text)
        os.chmod(self.path(relative), mode)

    def read(self, relative):
        with open(self.path(relative)) as f:
            return f.read()

    def exact(self):
        return {name: exact(self.path(name)) for name in WATCHED}

    def states(self):
        """file_state (bytes, mtime, inode, uid, mode) of the files that exist: nothing touched at all."""
        return {name: file_state(self.path(name)) for name in WATCHED if os.path.exists(self.path(name))}

    def start(self):
        """The namespace (after the test's users exist: /etc/shadow is copied) and sshd."""
        own = set(self.users.made) if self.users else set()

        def mine(line):
            name = line.split(":")[0]
            return not name.startswith("tsmod-") or name in own

        self.write("passwd", "".join(filter(mine, open("/etc/passwd"))))
        shadow = []
        for line in filter(mine, open("/etc/shadow")):
            fields = line.rstrip("\n").split(":")
            if fields[0] == "root":
                fields[1] = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=self.root_password,
                                           capture_output=True, text=True, check=True).stdout.strip()
            shadow.append(":".join(fields) + "\n")
        self.write("shadow", "".join(shadow), mode=0o640)
        os.chown(self.path("shadow"), 0, os.stat("/etc/shadow").st_gid)
        self.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sleep", "infinity"])
        mine = os.readlink("/proc/self/ns/mnt")
        for _ in range(100):
            if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != mine:
                break
            time.sleep(0.02)
        else:
            pytest.fail("unshare --mount did not make a namespace")
        # /etc/twostep as setup --security-keys makes it: in an overlay of
        # /etc (a tmpfs where the host has one), never the host's.
        overlay = self.root.parent / "etc-overlay"
        (overlay / "upper").mkdir(parents=True)
        (overlay / "work").mkdir()
        self.run(["mount", "-t", "overlay", "twostep-test", "-o",
                  f"lowerdir=/etc,upperdir={overlay / 'upper'},workdir={overlay / 'work'}", "/etc"], check=True)
        if self.run(["test", "-d", "/etc/twostep"]).returncode == 0:
            self.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "twostep-test", "/etc/twostep"], check=True)
        for source, target in (("etc/ssh", "/etc/ssh"), ("etc/pam.d", "/etc/pam.d"), ("var/lib", "/var/lib"),
                               ("shadow", "/etc/shadow"), ("passwd", "/etc/passwd")):
            self.run(["mount", "--bind", self.path(source), target], check=True)
        # Never go on unless setup would see the test's files.
        assert MARKER in self.run(["cat", "/etc/ssh/sshd_config"]).stdout
        assert self.run(["ls", "-A", "/var/lib"]).stdout.strip() == ""
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.sshd = subprocess.Popen(self.enter(["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"]),
                                     stdin=subprocess.DEVNULL, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        for _ in range(100):
            if "Server listening on" in self.sshd_log() and os.path.exists(self.pidfile):
                return self
            assert self.sshd.poll() is None, f"sshd exited:\n{self.sshd_log()}"
            time.sleep(0.1)
        pytest.fail(f"sshd did not start:\n{self.sshd_log()}")

    def inside(self, path):
        """A path as the namespace sees it (for /etc/twostep, which is in its overlay of /etc)."""
        return f"/proc/{self.holder.pid}/root{path}"

    def conf(self):
        """exact() of the namespace's /etc/twostep/twostep.conf, and whether /etc/twostep exists."""
        return exact(self.inside(CONF)), os.path.isdir(self.inside("/etc/twostep"))

    def effective(self, *match):
        """`sshd -T` in the namespace (with -C MATCH when given): keyword -> value."""
        args = ["/usr/sbin/sshd", "-T", "-f", "/etc/ssh/sshd_config"] + (["-C", match[0]] if match else [])
        out = self.run(args, check=True).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def sshd_log(self):
        try:
            return open(self.log).read()
        except OSError:
            return ""

    def enter(self, args):
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--"] + list(args)

    def run(self, args, check=False, **kw):
        return subprocess.run(self.enter(args), capture_output=True, text=True, timeout=120, check=check, **kw)

    def setup(self, *args, timeout=120, reload="signal"):
        """`twostep setup ARGS` in the namespace; `sshd` gets the test's module,
        SIGHUP to the test's sshd, and the detached timer (no systemd here);
        `sudo` the module and the detached timer."""
        args = list(args)
        if args and args[0] == "sshd":
            args += ["--module", self.module, "--reload", reload, "--timer", "process", "--timeout", str(timeout)]
        elif args and args[0] == "sudo":
            args += ["--module", self.module, "--timer", "process", "--timeout", str(timeout)]
        p = self.run([self.twostep, "setup"] + args)
        print(f"$ twostep setup {' '.join(args)}\n[rc {p.returncode}]\n{p.stdout}{p.stderr}")
        return p

    def give_key(self, name, pub):
        """An authorized key for `name` in /etc/ssh/keys/NAME (the machine
        needs ROOT_KEYS in its sshd_config): root gets a key without /root being touched."""
        os.makedirs(self.path("etc/ssh/keys"), mode=0o755, exist_ok=True)
        self.write(f"etc/ssh/keys/{name}", pub + "\n")

    def state(self, target="sshd"):
        """The text of `target`'s saved state, None when it has none."""
        try:
            return open(self.path(STATE_DIRS[target] + "/state")).read()
        except FileNotFoundError:
            return None

    def timer_log(self, target="sshd"):
        try:
            return open(self.path(STATE_DIRS[target] + "/timer.log")).read()
        except FileNotFoundError:
            return ""

    def processes(self):
        """Pids of every process in the namespace."""
        if self.holder is None:
            return []
        try:
            ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
        except OSError:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/mnt") == ns:
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    def stop(self):
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(10)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.holder is not None:
            self.holder.wait(10)


@pytest.fixture
def machine(tmp_path, twostep_bin, module, users):
    """Factory: machine(before="") makes the test machine (sshd_config lines
    `before` go right after the Include line); call .start() once the
    test's users exist."""
    made = []

    def make(before=""):
        m = Machine(tmp_path, twostep_bin, module, before=before, users=users)
        made.append(m)
        return m

    try:
        yield make
    finally:
        for m in made:
            m.stop()


@pytest.fixture
def enrolled(ssh_user):
    """pamtest's ssh_user: a password and an authenticator."""
    return ssh_user




def login(m, user, codes=(), password=PASSWORD, key=None, command="echo LOGGED-IN-MARKER", marker=None):
    """A keyboard-interactive login with ssh_login.py (paramiko)."""
    name = getattr(user, "name", user)
    args = [sys.executable, SSH_LOGIN, "--port", str(m.port), "--user", name, "--command", command, "--timeout", "30"]
    if password is not None:
        args += ["--password", password]
    for c in codes:
        args += ["--code", c]
    if key:
        args += ["--key", key]
    if marker:
        args += ["--marker", marker]
    r = SSHLogin(subprocess.run(args, capture_output=True, text=True, timeout=90))
    print(f"$ ssh_login.py --user {name} --command {command!r}{r!r}")
    return r


def code(u):
    return fresh_code(u.secret, u.read_factors())


def password_login(m, user, password=PASSWORD):
    """SSH's "password" method alone (what Debian's sshd_config offers
    before setup: KbdInteractiveAuthentication no). True when it logs in."""
    import paramiko
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", m.port), timeout=30))
    try:
        t.start_client(timeout=30)
        try:
            t.auth_password(getattr(user, "name", user), password)
        except (paramiko.AuthenticationException, paramiko.BadAuthenticationType):
            return False
        chan = t.open_session(timeout=30)
        chan.exec_command("echo PASSWORD-LOGIN")
        out = b""
        while True:
            data = chan.recv(65536)
            if not data:
                break
            out += data
        return b"PASSWORD-LOGIN" in out
    finally:
        t.close()


def confirm(m, marker="Confirmed:"):
    """`twostep setup --confirm` from a new root login over ssh."""
    return login(m, "root", password=m.root_password, command=f"{m.twostep} setup --confirm", marker=marker)


def wait_for(predicate, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


# --------------------------------------------------------------------------


def test_password_login_asks_code_and_undo_restores_bytes(machine, enrolled, users):
    newcomer = users.make(password=PASSWORD)  # not enrolled: nullok lets them in
    m = machine().start()
    before = m.exact()
    assert password_login(m, enrolled)

    p = m.setup("sshd", "--method", "password")
    assert p.returncode == 0, p
    assert "twostep setup --confirm" in p.stdout
    assert m.read("etc/ssh/sshd_config.d/twostep.conf").splitlines()[-3:] == [
        "UsePAM yes", "KbdInteractiveAuthentication yes", "AuthenticationMethods keyboard-interactive"]
    pam = m.read("etc/pam.d/sshd").splitlines()
    at = pam.index("@include common-auth")
    assert pam[at + 1].startswith("# twostep setup sshd --method password"), pam
    assert pam[at + 2] == f"auth required {m.module} nullok", pam
    assert m.exact()["etc/ssh/sshd_config"] == before["etc/ssh/sshd_config"]  # never changed
    assert m.exact()["etc/pam.d/common-auth"] == before["etc/pam.d/common-auth"]

    r = login(m, enrolled, [code(enrolled)])
    assert r.rc == 0 and "LOGGED-IN-MARKER" in r.output, r
    assert r.prompts[:2] == ["Password: ", "Verification code: "], r
    r = login(m, enrolled, [wrong_code(enrolled.secret)])
    assert r.rc != 0, r
    r = login(m, newcomer)  # nullok: no code asked
    assert r.rc == 0 and r.prompts == ["Password: "], r
    assert not password_login(m, enrolled)  # AuthenticationMethods keyboard-interactive

    s = m.setup("--status")
    assert s.returncode == 0 and "Pending: not confirmed yet" in s.stdout, s
    assert "/etc/pam.d/sshd: changed by setup" in s.stdout, s
    assert "authenticationmethods keyboard-interactive" in s.stdout, s
    assert m.setup("sshd", "--method", "password").returncode == 2  # one set-up at a time

    u = m.setup("--undo")
    assert u.returncode == 0, u
    assert m.exact() == before
    assert m.state() is None
    assert password_login(m, enrolled)
    assert "has not changed" in m.setup("--status").stdout
    assert m.setup("--undo").returncode == 2  # nothing to undo


def authorize(user, pub):
    ssh_dir = os.path.join(user.home, ".ssh")
    os.makedirs(ssh_dir, mode=0o700)
    with open(os.path.join(ssh_dir, "authorized_keys"), "w") as f:
        f.write(pub + "\n")
    for p in (ssh_dir, os.path.join(ssh_dir, "authorized_keys")):
        os.chown(p, user.uid, user.gid)


def test_publickey_login_asks_code_without_password(machine, enrolled, users, tmp_path):
    key, pub, _ = ssh_keypair(str(tmp_path), "user_key")
    password_only = users.make(password=PASSWORD)
    authorize(enrolled, pub)
    m = machine().start()
    before = m.exact()
    states = m.states()
    assert login(m, password_only).rc != 0  # KbdInteractiveAuthentication no before setup
    assert password_login(m, password_only)

    # Accounts with a password and no key could not log in at all with
    # publickey: listed, refused without --force (root here: PermitRootLogin yes, no key).
    p = m.setup("sshd", "--method", "publickey")
    assert p.returncode == 1, p
    assert re.search(rf"^  {password_only.name} +password +no authorized key", p.stderr, re.M), p
    assert re.search(r"^  root +password +no authorized key", p.stderr, re.M), p
    assert enrolled.name not in p.stderr, p  # password and key: it gets in
    assert "--force" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state() is None

    p = m.setup("sshd", "--method", "publickey", "--force")
    assert p.returncode == 0, p
    dropin = m.read("etc/ssh/sshd_config.d/twostep.conf")
    assert "AuthenticationMethods publickey,keyboard-interactive\n" in dropin and "ExposeAuthInfo yes\n" in dropin
    pam = m.read("etc/pam.d/sshd").splitlines()
    assert "@include common-auth" not in pam and "#@include common-auth" in pam, pam
    at = pam.index("#@include common-auth")
    assert pam[at + 1:at + 3] == [f"auth required {m.module} nullok", "auth required pam_permit.so"], pam

    r = login(m, enrolled, [code(enrolled)], password=None, key=key)
    assert r.rc == 0 and "LOGGED-IN-MARKER" in r.output, r
    assert "Password: " not in r.prompts and any("code" in q.lower() for q in r.prompts), r
    r = login(m, enrolled, [code(enrolled)])  # password and code, but no key: refused
    assert r.rc != 0, r
    assert login(m, password_only).rc != 0 and not password_login(m, password_only)  # locked out, as listed

    assert m.setup("--undo").returncode == 0
    assert m.exact() == before


def test_broken_sshd_config_refused_nothing_touched(machine):
    m = machine().start()
    # Broken while sshd runs (it would not start so).
    m.write("etc/ssh/sshd_config", m.read("etc/ssh/sshd_config") + "NoSuchOption yes\n")
    before = m.states()
    p = m.setup("sshd", "--method", "password")
    assert p.returncode == 3, p
    assert "sshd -t" in p.stderr and "NoSuchOption" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == before
    assert m.state() is None


def test_invalid_result_put_back(machine):
    """sshd -t passes before and fails after writing (publickey is in
    AuthenticationMethods, but PubkeyAuthentication is off): every file is put back."""
    m = machine(before="PubkeyAuthentication no")
    m.start()
    before = m.exact()
    p = m.setup("sshd", "--method", "publickey", "--force")  # root has a password and no key
    assert p.returncode == 3, p
    assert "sshd -t refuses" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.exact() == before
    assert m.state() is None
    assert not os.path.exists(m.path("var/lib/twostep-setup/timer.log"))


def test_drop_in_that_would_lose_is_named(machine):
    """An option set above the Include line wins over the drop-in (first value wins)."""
    m = machine()
    cfg = m.read("etc/ssh/sshd_config").replace(
        "Include /etc/ssh/sshd_config.d/*.conf\n",
        "KbdInteractiveAuthentication no\nInclude /etc/ssh/sshd_config.d/*.conf\n")
    m.write("etc/ssh/sshd_config", cfg)
    m.start()
    before = m.states()
    p = m.setup("sshd", "--method", "password")
    assert p.returncode == 3, p
    assert "/etc/ssh/sshd_config line 2: 'KbdInteractiveAuthentication no'" in p.stderr, p
    assert "first value" in p.stderr and "move it below line 3" in p.stderr, p
    assert m.states() == before


def test_not_confirmed_undone_after_timeout(machine, enrolled):
    """The timer outlives setup's terminal: setup runs on a pty that is hung up."""
    import pexpect
    m = machine().start()
    before = m.exact()
    cmd = m.enter([m.twostep, "setup", "sshd", "--method", "password", "--module", m.module,
                   "--reload", "signal", "--timer", "process", "--timeout", "3"])
    child = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    out = child.before
    child.close(force=True)  # the terminal goes away (SIGHUP to its session)
    print(out)
    assert child.exitstatus == 0, out
    assert re.search(r"undo timer: process \d+", out), out
    assert m.state() is not None

    assert wait_for(lambda: m.state() is None, 20), m.timer_log()
    assert m.exact() == before
    assert "Not confirmed in time" in m.timer_log(), m.timer_log()
    assert password_login(m, enrolled)  # the password alone works again
    assert "has not changed" in m.setup("--status").stdout


def test_confirm_from_new_login_keeps_it(machine, enrolled):
    import paramiko
    m = machine().start()
    before = m.exact()
    # A root connection opened before setup: it proves nothing afterwards.
    old = paramiko.Transport(socket.create_connection(("127.0.0.1", m.port), timeout=30))
    old.start_client(timeout=30)
    old.auth_password("root", m.root_password)

    p = m.setup("sshd", "--method", "password", timeout=12)
    assert p.returncode == 0, p
    after = m.exact()

    c = m.setup("--confirm")  # from this process: no ssh login above it
    assert c.returncode == 1 and "not confirmed" in c.stderr and "ssh login" in c.stderr, c
    chan = old.open_session(timeout=30)
    chan.exec_command(f"{m.twostep} setup --confirm")
    err = chan.makefile_stderr().read().decode()
    assert chan.recv_exit_status() == 1 and "opened before setup" in err, err
    old.close()

    r = confirm(m)
    assert r.rc == 0, r
    s = m.setup("--status")
    assert "Confirmed at" in s.stdout and "root" in s.stdout, s
    assert confirm(m, marker="Already confirmed").rc == 0

    time.sleep(14)  # past the deadline: nothing is undone
    assert m.exact() == after
    assert "Pending" not in m.setup("--status").stdout
    r = login(m, enrolled, [code(enrolled)])
    assert r.rc == 0 and any("code" in q.lower() for q in r.prompts), r

    assert m.setup("--undo").returncode == 0
    assert m.exact() == before


def test_enforce_refuses_unenrolled_and_names_them(machine, enrolled, users):
    late = users.make(password=PASSWORD)
    m = machine().start()
    before = m.states()
    p = m.setup("sshd", "--method", "password", "--enforce")
    assert p.returncode == 1, p
    assert re.search(rf"^  {late.name} +password", p.stderr, re.M), p
    assert re.search(r"^  root +password", p.stderr, re.M), p  # root has a password here and PermitRootLogin yes
    assert enrolled.name not in p.stderr, p
    assert "--force" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == before

    p = m.setup("sshd", "--method", "password", "--enforce", "--force")
    assert p.returncode == 0, p
    assert f"auth required {m.module}\n" in m.read("etc/pam.d/sshd")  # no nullok
    r = login(m, late)
    assert r.rc != 0, r  # not enrolled: refused
    r = login(m, enrolled, [code(enrolled)])
    assert r.rc == 0, r
    assert m.setup("--undo").returncode == 0


@pytest.mark.parametrize("methods", ["any", "keyboard-interactive", "password", "publickey password"])
def test_publickey_refuses_match_block_without_key(machine, users, tmp_path, methods):
    """With --method publickey /etc/pam.d/sshd checks no password (pam_twostep
    nullok + pam_permit): a Match block whose AuthenticationMethods lets a
    connection in without the key would let an unenrolled account in with any
    password. Refused (exit 3), the line and the fix named, nothing changed."""
    keyed = users.make(password=PASSWORD)
    _, pub, _ = ssh_keypair(str(tmp_path), "user_key")
    authorize(keyed, pub)
    m = machine()
    m.write("etc/ssh/sshd_config", m.read("etc/ssh/sshd_config") +
            f"Match User {keyed.name}\n    PasswordAuthentication yes\n    AuthenticationMethods {methods}\n")
    number = m.read("etc/ssh/sshd_config").splitlines().index(f"    AuthenticationMethods {methods}") + 1
    m.start()
    states = m.states()
    p = m.setup("sshd", "--method", "publickey", "--force")  # --force does not override it
    assert p.returncode == 3, p
    assert f"/etc/ssh/sshd_config line {number}: 'AuthenticationMethods {methods}'" in p.stderr, p
    assert "checks no password" in p.stderr and "PasswordAuthentication is yes" in p.stderr, p
    assert "Fix:" in p.stderr and "publickey,keyboard-interactive" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state() is None

    # A block whose every alternative begins with publickey only warns.
    m.write("etc/ssh/sshd_config", m.read("etc/ssh/sshd_config").replace(
        f"AuthenticationMethods {methods}", "AuthenticationMethods publickey,keyboard-interactive publickey,password"))
    p = m.setup("sshd", "--method", "publickey", "--force")
    assert p.returncode == 0 and "warning" in p.stderr and "Match block" in p.stderr, p
    assert login(m, keyed).rc != 0 and not password_login(m, keyed)  # no key: no way in
    assert m.setup("--undo").returncode == 0


def test_root_without_permit_root_login_yes_is_locked_out(machine, tmp_path):
    """PermitRootLogin prohibit-password (Debian's default): sshd refuses
    root's keyboard-interactive step, so either method shuts out root, who
    logs in with a key today. Listed and refused without --force; with it,
    setup does not tell the admin to confirm as root."""
    key, pub, _ = ssh_keypair(str(tmp_path), "root_key")
    m = machine(before=ROOT_KEYS)
    m.give_key("root", pub)
    m.start()
    states = m.states()
    r = login(m, "root", password=None, key=key)
    assert r.rc == 0, r  # root gets in with its key today

    for method in ("publickey", "password"):
        p = m.setup("sshd", "--method", method)
        assert p.returncode == 1, p
        assert re.search(r"^  root +key \(/etc/ssh/keys/root\) +PermitRootLogin (prohibit-password|without-password)", p.stderr, re.M), p
        assert "--force" in p.stderr and "Nothing was changed" in p.stderr, p
        assert m.states() == states and m.state() is None

    p = m.setup("sshd", "--method", "publickey", "--force")
    assert p.returncode == 0, p
    assert "ssh as root" not in p.stdout and "as a user who can sudo" in p.stdout, p
    r = login(m, "root", password=None, key=key)
    assert r.rc != 0, r  # as listed: the key is accepted, the code step is not
    assert m.setup("--undo").returncode == 0
    assert login(m, "root", password=None, key=key).rc == 0


def test_password_method_lists_key_only_accounts(machine, users, tmp_path):
    """--method password shuts out an account that has a key and no usable
    password: listed and refused without --force (no --enforce needed)."""
    key, pub, _ = ssh_keypair(str(tmp_path), "user_key")
    key_only = users.make()  # password '!'
    authorize(key_only, pub)
    m = machine().start()
    states = m.states()
    r = login(m, key_only, password=None, key=key)
    assert r.rc == 0, r

    p = m.setup("sshd", "--method", "password")
    assert p.returncode == 1, p
    assert re.search(rf"^  {key_only.name} +key \(\S+authorized_keys\) +no usable password", p.stderr, re.M), p
    assert not re.search(r"^  root ", p.stderr, re.M), p  # root has a password here, PermitRootLogin yes
    assert "--force" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state() is None

    p = m.setup("sshd", "--method", "password", "--force")
    assert p.returncode == 0, p
    assert login(m, key_only, password=None, key=key).rc != 0  # as listed
    assert m.setup("--undo").returncode == 0


FAKE_SYSTEMCTL = """#!/bin/sh
# systemd's ExecReload for ssh.service is 'kill -HUP $MAINPID': systemctl
# returns before sshd re-executes itself. Here the gap is made long.
[ "$1" = try-reload-or-restart ] || exit 1
setsid sh -c 'sleep 0.5; touch {marker}; sleep 3; kill -HUP $(cat {pidfile})' </dev/null >/dev/null 2>&1 &
exit 0
"""


def test_new_login_window_starts_after_sshd_reexec(machine, tmp_path):
    """A connection the old listener accepts after the reload command has
    returned but before sshd has re-executed itself did not go through the new
    configuration: its --confirm is refused. setup waits for the new listener."""
    import paramiko
    m = machine().start()
    bin_dir, marker = tmp_path / "bin", tmp_path / "reload-returned"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL.format(marker=marker, pidfile=m.pidfile))
    os.chmod(bin_dir / "systemctl", 0o755)
    m.run(["mount", "--bind", str(bin_dir), "/usr/local/sbin"], check=True)

    args = ["sshd", "--method", "password", "--module", m.module, "--reload", "systemd",
            "--timer", "process", "--timeout", "120"]
    setup = subprocess.Popen(m.enter([m.twostep, "setup"] + args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(marker.exists, 30)
    assert setup.poll() is None  # still waiting for sshd to re-execute
    gap = paramiko.Transport(socket.create_connection(("127.0.0.1", m.port), timeout=30))
    gap.start_client(timeout=30)
    gap.auth_password("root", m.root_password)  # the old configuration: password alone
    out, err = setup.communicate(timeout=60)
    print(out, err)
    assert setup.returncode == 0, err
    assert "reloaded ssh.service" in out and "has not written" not in out, out

    chan = gap.open_session(timeout=30)
    chan.exec_command(f"{m.twostep} setup --confirm")
    err = chan.makefile_stderr().read().decode()
    assert chan.recv_exit_status() == 1 and "opened before setup" in err, err
    gap.close()
    assert confirm(m).rc == 0  # a login through the new configuration
    assert m.setup("--undo").returncode == 0
