"""Issue 13: self-service through twostepd into a store users cannot read.

A real twostepd (`twostepd --socket-dir DIR --config FILE`, as root) serves
io.twostep.Manage; ordinary users run the real `twostep` CLI, which finds
the administrator-managed store in the configuration and talks to the
daemon (TWOSTEP_CONFIG and TWOSTEP_SOCKET_DIR point it at the test's
files). Logins go through the real module (pamdriver) on the same store.
Codes come from oathtool.
"""

import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import REPO, cli, cli_argv, cli_env
from pamtest import DaemonProcess, avoid_step_edge, pamdriver, pam  # noqa: F401 (fixtures)
from test_cli import CLI, SECRET, SECRET2, totp

OUTBOX = "/var/spool/twostep/outbox"
PHONE = "+966501234534"


def root_dir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


class Daemon(DaemonProcess):
    """A twostepd in the foreground on its own sockets, store and configuration."""

    def __init__(self, binary, top, extra_config=""):
        self.binary = binary
        self.top = top
        self.store = root_dir(os.path.join(top, "store"), 0o700)
        self.sockets = root_dir(os.path.join(top, "run"))
        self.channels = root_dir(os.path.join(top, "channels"))
        for kind in ("sms", "voice"):
            shutil.copy(os.path.join(REPO, "channels", "spool"), os.path.join(self.channels, kind))
            os.chmod(os.path.join(self.channels, kind), 0o755)
        self.config = os.path.join(top, "twostep.conf")
        # Root's send tallies (SPEC §5): this daemon's own, shared with the
        # module's lines of login_service.
        self.sends = os.path.join(top, "sends")
        with open(self.config, "w") as f:
            f.write(f"# test configuration\nstore={self.store}/%u\nchannels={self.channels}\n"
                    f"send_count_dir={self.sends}\n{extra_config}")
        os.chmod(self.config, 0o644)
        super().__init__(os.path.join(top, "twostepd.log"))

    def start(self, *extra):
        return self.launch([self.binary, "--socket-dir", self.sockets, "--config", self.config, *extra],
                           os.path.join(self.sockets, "io.twostep.Manage"))

    @property
    def env(self):
        return dict(os.environ, TWOSTEP_CONFIG=self.config, TWOSTEP_SOCKET_DIR=self.sockets)

    def record(self, user):
        return os.path.join(self.store, user.name)


@pytest.fixture
def daemon(daemon_bin):
    top = root_dir(tempfile.mkdtemp(prefix="twostepd-test-", dir="/var/tmp"))
    d = Daemon(daemon_bin, top).start()
    yield d
    d.stop()
    shutil.rmtree(top, ignore_errors=True)


class User(CLI):
    """An account, and the CLI run as it (or as root) with the daemon's env."""

    def __init__(self, daemon, account):
        super().__init__(account, env=daemon.env)
        self.daemon, self.account = daemon, account
        self.name = account.name

    def popen(self, *args, **kw):
        """`twostep ARGS` as this user, started (subprocess.Popen keywords)."""
        return subprocess.Popen(cli_argv(*args, user=self.account), cwd="/",
                                env=cli_env(self.account, self.daemon.env), **kw)

    def enroll(self):
        avoid_step_edge(margin=8)
        r = self.run("enroll", "--secret", SECRET, "--code", totp(SECRET), "--json")
        assert r.returncode == 0, r.stderr + self.daemon.logtext()
        return json.loads(r.stdout)


@pytest.fixture
def user(daemon, users):
    return User(daemon, users.make(password="pw"))


def login_service(pam, daemon, name="svc"):
    return pam.service(name, f"config={daemon.config} send_count_dir={daemon.sends}")


# Enrolment and what the user can see

def test_enroll_through_the_daemon_into_a_root_owned_store(user, daemon):
    result = user.enroll()
    assert set(result) == {"user", "uri", "secret", "authenticator_id", "backup_codes"}
    assert len(result["backup_codes"]) == 10
    st = os.stat(daemon.record(user))
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o600)
    # The user cannot read the record, nor even reach it.
    r = subprocess.run(["runuser", "-u", user.name, "--", "cat", daemon.record(user)], capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr
    code, status = user.status()
    assert code == 0 and status["enabled"] and status["path"] == daemon.record(user)
    assert status["backup_codes_left"] == 10
    assert "Enroll" in daemon.logtext()


def test_no_reply_carries_a_secret_or_a_hash(user, daemon):
    user.enroll()
    text = open(daemon.record(user)).read()
    hexes = set(re.findall(r"[0-9a-f]{32,}", text))
    assert hexes  # the record does hold hashes: none may come back
    outputs = [user.run("status", "--json").stdout, user.run("status").stdout, user.run("trust", "list", "--json").stdout]
    for out in outputs:
        assert SECRET not in out and not any(h in out for h in hexes), out
    assert SECRET not in daemon.logtext()


def test_status_off_and_commands_exit_codes_as_on_the_file_path(user, daemon):
    r = user.run("status")
    assert r.returncode == 1 and "off" in r.stdout
    r = user.run("verify", "--code", "123456")
    assert r.returncode == 3 and "does not exist" in r.stderr


def test_self_enroll_no_refuses_users_without_a_record(daemon_bin, users):
    top = root_dir(tempfile.mkdtemp(prefix="twostepd-test-", dir="/var/tmp"))
    d = Daemon(daemon_bin, top, extra_config="self_enroll=no\n").start()
    try:
        u = User(d, users.make())
        r = u.run("enroll", "--secret", SECRET, "--code", totp(SECRET), "--json")
        assert r.returncode == 1 and "self_enroll=no" in r.stderr
        assert not os.path.exists(d.record(u))
        r = u.run("enroll", "--user", u.name, "--secret", SECRET, "--code", totp(SECRET), "--json", root=True)
        assert r.returncode == 0, r.stderr
    finally:
        d.stop()
        shutil.rmtree(top, ignore_errors=True)


def test_daemon_not_running_is_exit_3_naming_the_socket(user, daemon):
    daemon.stop()
    r = user.run("status")
    assert r.returncode == 3
    assert os.path.join(daemon.sockets, "io.twostep.Manage") in r.stderr
    assert "systemctl start twostepd.socket" in r.stderr


# Phones: the daemon runs the channel plugin as root

def test_user_adds_a_phone_and_logs_in_with_an_sms_code(user, daemon, pam):
    backup = user.enroll()["backup_codes"][0]
    before = spooled_count(user)
    proc = user.popen("add", "phone", PHONE, "--code", backup,
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code = wait_spooled(user, before)
    out, err = proc.communicate(code + "\n", timeout=30)
    assert proc.returncode == 0, err + daemon.logtext()
    assert "Added phone phone-1" in out and "9 backup codes left" in err
    # A login: "?" opens the menu, the SMS is sent, its code logs in.
    login_service(pam, daemon)
    menu_pick = "2"
    run = pam.run("svc", user, ["?", menu_pick, f"@cmd:awk -v u={shlex.quote(user.name)} '$2==u {{c=$5}} END {{print c}}' {OUTBOX}"])
    assert run.result == "PAM_SUCCESS", run


def test_channels_flag_is_refused_on_the_daemon_path(user, daemon):
    backup = user.enroll()["backup_codes"][0]
    r = user.run("add", "phone", PHONE, "--channels", "/tmp", "--code", backup)
    assert r.returncode == 2 and "twostepd" in r.stderr
    assert user.run("verify", "--code", backup).returncode == 0  # not spent


# Shared state with logins

def test_wrong_codes_through_the_daemon_count_at_login_and_back(user, daemon, pam):
    user.enroll()
    login_service(pam, daemon)
    for _ in range(2):
        assert user.run("verify", "--code", "000000").returncode == 1
    for _ in range(2):
        assert pam.run("svc", user, ["000000"]).result != "PAM_SUCCESS"
    assert user.status()[1]["failures"] == 4
    assert user.run("verify", "--code", "000001").returncode == 1  # the fifth: locked out
    code, status = user.status()
    assert status["locked_until"] is not None
    r = pam.run("svc", user, [totp(SECRET, 30)])
    assert r.result != "PAM_SUCCESS"


def test_a_code_used_at_the_daemon_is_refused_at_login_and_back(user, daemon, pam):
    backup = user.enroll()["backup_codes"]
    login_service(pam, daemon)
    assert user.run("verify", "--code", backup[0]).returncode == 0
    assert pam.run("svc", user, [backup[0]]).result != "PAM_SUCCESS"
    assert pam.run("svc", user, [backup[1]]).result == "PAM_SUCCESS"
    r = user.run("verify", "--code", backup[1])
    assert r.returncode == 1
    code = totp(SECRET, 30)
    assert user.run("verify", "--code", code).returncode == 0
    assert pam.run("svc", user, [code]).result != "PAM_SUCCESS"


def test_every_command_works_through_the_daemon(user, daemon):
    backup = user.enroll()["backup_codes"]
    r = user.run("codes", "--json", "--code", backup[0])
    assert r.returncode == 0, r.stderr
    fresh = json.loads(r.stdout)["backup_codes"]
    assert user.status()[1]["backup_codes_left"] == 10
    r = user.run("add", "totp", "--secret", SECRET2, "--no-qr", "--new-code", totp(SECRET2), "--code", fresh[0])
    assert r.returncode == 0 and "totp-2" in r.stdout, r.stderr
    r = user.run("remove", "totp-2", "--code", fresh[1])
    assert r.returncode == 0, r.stderr
    r = user.run("trust", "revoke", "--all", "--code", fresh[2])
    assert r.returncode == 0 and "No trusted devices" in r.stdout
    r = user.run("disable", "--code", fresh[3])
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(daemon.record(user))


def test_import_google_authenticator_through_the_daemon(user, daemon):
    path = os.path.join(user.account.home, ".google_authenticator")
    with open(path, "w") as f:
        f.write(f'{SECRET}\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n12345678\n87654321\n')
    os.chown(path, user.account.uid, user.account.gid)
    os.chmod(path, 0o400)
    r = user.run("import", "google-authenticator")
    assert r.returncode == 0, r.stderr
    assert user.status()[1]["backup_codes_left"] == 2
    assert user.run("verify", "--code", "12345678").returncode == 0


# Identity

def varlink_call(path, method, parameters, uid=None):
    """One raw Varlink call (optionally from a child process running as uid)."""
    message = json.dumps({"method": method, "parameters": parameters}).encode() + b"\0"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if uid is not None:
                os.setgroups([])
                os.setgid(pwd.getpwuid(uid).pw_gid)
                os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(20)
                s.connect(path)
                s.sendall(message)
                data = b""
                while not data.endswith(b"\0"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            os.write(w, data)
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data.rstrip(b"\0").decode())


def test_a_user_cannot_name_another_user(user, daemon, users):
    other = users.make()
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    reply = varlink_call(manage, "io.twostep.Manage.Status", {"user": other.name}, uid=user.account.uid)
    assert reply.get("error") == "io.twostep.Manage.PermissionDenied", reply
    reply = varlink_call(manage, "io.twostep.Manage.Status", {"user": user.name}, uid=user.account.uid)
    assert "error" not in reply and reply["parameters"]["user"] == user.name


@pytest.mark.parametrize("name", ["../etc", "a/b", "x\u0000y", "..", ""])
def test_malformed_names_are_refused(daemon, name):
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    reply = varlink_call(manage, "io.twostep.Manage.Status", {"user": name})
    assert reply.get("error") == "io.twostep.Manage.InvalidUser", reply


def test_root_may_name_any_user(user, daemon):
    user.enroll()
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    reply = varlink_call(manage, "io.twostep.Manage.Status", {"user": user.name})
    assert reply["parameters"]["enabled"] is True
    reply = varlink_call(manage, "io.twostep.Manage.NewBackupCodes", {"user": user.name, "count": 3})
    assert len(reply["parameters"]["backupCodes"]) == 3  # root needs no code


def test_unknown_fields_are_refused(user, daemon):
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    reply = varlink_call(manage, "io.twostep.Manage.Verify", {"code": "123456", "failures": 0}, uid=user.account.uid)
    assert reply.get("error") == "org.varlink.service.InvalidParameter", reply


def test_python_varlink_client_lists_and_calls(user, daemon):
    varlink = pytest.importorskip("varlink")
    with varlink.Client(address="unix:" + os.path.join(daemon.sockets, "io.twostep.Manage")) as client:
        info = client.get_interfaces()
        assert "io.twostep.Manage" in info
        with client.open("io.twostep.Manage") as manage:
            status = manage.Status(user.name)
            assert status["user"] == user.name and status["enabled"] is False


# Crash safety

def test_daemon_killed_mid_call_leaves_a_valid_record(user, daemon):
    backup = user.enroll()["backup_codes"]
    for i in range(12):
        p = user.popen("verify", "--code", "000000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.002 * i)
        daemon.proc.kill()
        daemon.proc.wait()
        p.wait(timeout=30)
        daemon.start()
        code, status = user.status()
        assert code == 0 and status["enabled"], status
    # What was acknowledged is there: a spent backup code stays spent.
    assert user.run("verify", "--code", backup[0]).returncode == 0
    daemon.proc.kill()
    daemon.proc.wait()
    daemon.start()
    assert user.run("verify", "--code", backup[0]).returncode == 1


def test_client_killed_mid_call_changes_nothing_half_way(user, daemon):
    user.enroll()
    for _ in range(10):
        p = user.popen("codes", "--json", "--code", "000000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.01)
        p.kill()
        p.wait()
    code, status = user.status()
    assert code == 0 and status["backup_codes_left"] == 10


def test_selfservice_bench_smoke(twostep_bin, daemon_bin):
    """bench/selfservice.py (make bench) runs and checks its results."""
    r = subprocess.run(["python3", os.path.join(REPO, "bench", "selfservice.py"), "--cli", twostep_bin,
                        "--daemon", daemon_bin, "--smoke"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wrong verify" in r.stdout and "every wrong code counted: 3" in r.stdout


def wait_spooled(user, before, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(OUTBOX) as f:
                codes = [l.split(" ")[4] for l in f.read().splitlines() if l.split(" ")[1] == user.name]
            if len(codes) > before:
                return codes[-1]
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("no code was spooled")


def spooled_count(user):
    try:
        with open(OUTBOX) as f:
            return sum(1 for l in f.read().splitlines() if l.split(" ")[1] == user.name)
    except FileNotFoundError:
        return 0


def test_enroll_force_with_a_phone_through_the_daemon(user, daemon):
    backup = user.enroll()["backup_codes"]
    before = spooled_count(user)
    proc = user.popen("enroll", "--force", "--secret", SECRET2, "--no-qr", "--code", totp(SECRET2),
                      "--old-code", backup[0], "--phone", PHONE, "--backup-codes", "0",
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code = wait_spooled(user, before)
    out, err = proc.communicate(code + "\n", timeout=30)
    assert proc.returncode == 0, err + daemon.logtext()
    status = user.status()[1]
    assert [p["id"] for p in status["phones"]] == ["phone-1"] and status["backup_codes_left"] == 0
    assert user.run("verify", "--code", backup[1]).returncode == 1  # the old record is gone


def test_store_flag_other_than_the_managed_store_is_refused(user, daemon):
    other = root_dir(os.path.join(daemon.top, "other"), 0o700)
    r = user.run("status", "--store", other + "/%u")
    assert r.returncode == 2 and "store= of twostep.conf" in r.stderr


def test_home_store_on_a_root_owned_home_is_refused(users):
    u = users.make()
    os.chown(u.home, 0, 0)
    r = cli("status", "--store", "%h/.twostep", user=u)
    assert r.returncode == 3 and "home not mounted" in r.stderr


def test_no_method_lowers_the_failure_count_or_the_last_step(user, daemon):
    """Every method, called by the user without a right code, leaves the
    failure count as high as before (or higher) and the last-used step as it was."""
    user.enroll()
    for _ in range(2):
        assert user.run("verify", "--code", "000000").returncode == 1
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")

    def state():
        text = open(daemon.record(user)).read()
        failures = re.search(r"^failures count=(\d+)", text, re.M)
        step = re.search(r"last-step=(\d+)", text)
        return int(failures.group(1)) if failures else 0, step.group(1) if step else None

    key = {"secret": SECRET2, "algorithm": "SHA1", "digits": 6, "period": 30, "label": "x"}
    calls = [
        ("Status", {}),
        ("NewBackupCodes", {"count": 3, "code": "000000"}),
        ("NewBackupCodes", {"count": 3}),
        ("Remove", {"id": "totp-1", "code": "000000"}),
        ("RevokeTrust", {"all": True, "code": "000000"}),
        ("Disable", {"code": "000000"}),
        ("AddAuthenticator", {"key": key, "newCode": totp(SECRET2), "code": "000000"}),
        ("SendPhoneConfirmation", {"phone": {"number": PHONE, "channel": "sms"}, "code": "000000"}),
        ("AddPhone", {"phone": {"number": PHONE, "channel": "sms"}, "label": "p", "confirmation": "123456"}),
        ("Enroll", {"key": key, "code": totp(SECRET2), "backupCodes": 5, "force": False}),
        ("Enroll", {"key": key, "code": totp(SECRET2), "backupCodes": 5, "force": True}),
        ("Reset", {}),
    ]
    failures, step = state()
    for method, parameters in calls:
        reply = varlink_call(manage, "io.twostep.Manage." + method, parameters, uid=user.account.uid)
        if method != "Status":
            assert "error" in reply, (method, reply)
        now_failures, now_step = state()
        assert now_failures >= failures and now_step == step, (method, reply, now_failures, now_step)
        failures = now_failures


def test_a_user_cannot_replace_a_corrupt_record_without_an_administrator(user, daemon):
    user.enroll()
    with open(daemon.record(user), "a") as f:
        f.write("garbage line\n")
    r = user.run("enroll", "--force", "--secret", SECRET2, "--no-qr", "--code", totp(SECRET2))
    assert r.returncode == 3 and "only an administrator" in r.stderr, r.stderr
    assert "garbage line" in open(daemon.record(user)).read()
    r = user.run("enroll", "--user", user.name, "--force", "--secret", SECRET2, "--no-qr", "--code", totp(SECRET2),
                 root=True)
    assert r.returncode == 0, r.stderr


def test_labels_must_be_printable(user, daemon):
    backup = user.enroll()["backup_codes"][0]
    r = user.run("add", "totp", "--secret", SECRET2, "--no-qr", "--label", "evil\x1b[2Jlabel",
                 "--new-code", totp(SECRET2), "--code", backup)
    assert r.returncode == 2 and "printable" in r.stderr
    assert user.run("verify", "--code", backup).returncode == 0  # not spent


def test_fleet_backend_is_refused_until_it_is_served(user, daemon, pam, tmp_path):
    conf = os.path.join(daemon.top, "fleet.conf")
    with open(conf, "w") as f:
        f.write(f"store={daemon.store}/%u\nbackend=postgresql\ndatabase=postgresql://twostep@localhost/twostep\n")
    os.chmod(conf, 0o644)
    r = cli("status", user=user.account, config=conf)
    assert r.returncode == 2 and "backend=postgresql" in r.stderr
    pam.service("fleet", f"config={conf} nullok")
    run = pam.run("fleet", user, ["123456"])
    assert run.result == "PAM_SERVICE_ERR", run


def test_idle_exit_waits_while_an_enrolment_confirmation_is_pending(daemon_bin, users):
    """The code sent for `enroll --phone` (no record yet) and the count of
    sends live in twostepd's memory: an idle exit would wipe the send
    limit, so the daemon does not exit while they matter."""
    top = root_dir(tempfile.mkdtemp(prefix="twostepd-test-", dir="/var/tmp"))
    quiet = Daemon(daemon_bin, top).start("--idle-exit", "2")
    try:
        assert quiet.proc.wait(10) == 0  # nothing held: it exits when idle
    finally:
        quiet.stop()
    d = Daemon(daemon_bin, top).start("--idle-exit", "2")
    try:
        account = users.make()
        before = spooled_count(account)
        reply = varlink_call(os.path.join(d.sockets, "io.twostep.Manage"), "io.twostep.Manage.SendPhoneConfirmation",
                             {"phone": {"number": PHONE, "channel": "sms"}}, uid=account.uid)
        assert "error" not in reply, reply
        wait_spooled(account, before)
        time.sleep(5)
        assert d.proc.poll() is None, "exited with a confirmation pending:\n" + d.logtext()
        # The send limit still counts that send (3 per window by default).
        for _ in range(2):
            reply = varlink_call(os.path.join(d.sockets, "io.twostep.Manage"),
                                 "io.twostep.Manage.SendPhoneConfirmation",
                                 {"phone": {"number": PHONE, "channel": "sms"}}, uid=account.uid)
            assert "error" not in reply, reply
        reply = varlink_call(os.path.join(d.sockets, "io.twostep.Manage"), "io.twostep.Manage.SendPhoneConfirmation",
                             {"phone": {"number": PHONE, "channel": "sms"}}, uid=account.uid)
        assert reply.get("error") == "io.twostep.Manage.CodeRefused" and "too many" in reply["parameters"]["message"], reply
    finally:
        d.stop()
        shutil.rmtree(top, ignore_errors=True)


# Issue 19, item 1: the send limit lives where the user cannot reset it

def send_confirmation(daemon, account, code=None):
    params = {"phone": {"number": PHONE, "channel": "sms"}}
    if code is not None:
        params["code"] = code
    return varlink_call(os.path.join(daemon.sockets, "io.twostep.Manage"), "io.twostep.Manage.SendPhoneConfirmation",
                        params, uid=account.uid)


@pytest.mark.parametrize("self_enroll", ["yes", "no"])
def test_send_limit_survives_reenrolment_disable_and_import(daemon_bin, users, self_enroll):
    """The review's SMS pump: an enrolled user sends confirmation codes to an
    unconfirmed number, then writes a fresh record (Enroll force, import
    with force, disable and enrol again) whose empty `sends` line used to
    start the limit again, and one authorising code served every send. The
    count is root's now (send_count_dir=), per account and per number:
    send_limit=3 per window holds across every replacement."""
    top = root_dir(tempfile.mkdtemp(prefix="twostepd-test-", dir="/var/tmp"))
    d = Daemon(daemon_bin, top, extra_config=f"self_enroll={self_enroll}\n").start()
    try:
        account = users.make(password="pw")
        u = User(d, account)
        if self_enroll == "no":
            avoid_step_edge(margin=8)
            r = u.run("enroll", "--user", u.name, "--secret", SECRET, "--code", totp(SECRET), "--json", root=True)
            assert r.returncode == 0, r.stderr
            backup = json.loads(r.stdout)["backup_codes"]
        else:
            backup = u.enroll()["backup_codes"]
        before = spooled_count(account)
        refused = 0
        for round in range(4):
            for _ in range(3):
                reply = send_confirmation(d, account, code=backup[0])
                if "error" in reply:
                    assert reply["error"] == "io.twostep.Manage.CodeRefused", reply
                    assert "too many codes" in reply["parameters"]["message"], reply
                    refused += 1
            # A fresh record: re-enrol over it (the old record's code authorises it).
            avoid_step_edge(margin=8)
            r = u.run("enroll", "--force", "--secret", SECRET2 if round % 2 == 0 else SECRET,
                      "--code", totp(SECRET2 if round % 2 == 0 else SECRET), "--old-code", backup[0], "--json")
            assert r.returncode == 0, r.stderr + d.logtext()
            backup = json.loads(r.stdout)["backup_codes"]
        time.sleep(0.5)
        assert spooled_count(account) - before == 3, d.logtext()
        assert refused == 9
        # Disable and enrol again: still counted.
        r = u.run("disable", "--code", backup[0])
        assert r.returncode == 0, r.stderr
        if self_enroll == "yes":
            backup = u.enroll()["backup_codes"]
            reply = send_confirmation(d, account, code=backup[0])
            assert reply.get("error") == "io.twostep.Manage.CodeRefused", reply
        assert spooled_count(account) - before == 3
    finally:
        d.stop()
        shutil.rmtree(top, ignore_errors=True)


def test_send_limit_counts_per_number_across_accounts(daemon, users):
    """One number, many accounts: the number's own count stops the pump."""
    first = User(daemon, users.make(password="pw"))
    second = User(daemon, users.make(password="pw"))
    codes = [first.enroll()["backup_codes"][0], second.enroll()["backup_codes"][0]]
    replies = [send_confirmation(daemon, u.account, code=c) for u, c in [(first, codes[0])] * 2 + [(second, codes[1])] * 2]
    assert ["error" in r for r in replies] == [False, False, False, True], replies
    assert "too many codes" in replies[3]["parameters"]["message"]


# Issue 19, item 4: a user who holds their own record's lock

def hold_lock(path):
    """A process holding an exclusive flock on `path` (as a stopped `su` in
    the module's update would), once it does."""
    holder = subprocess.Popen(["flock", "-o", "-x", path, "sleep", "300"])  # -o: killing flock ends the lock
    deadline = time.time() + 10
    while time.time() < deadline:
        if subprocess.run(["flock", "-n", "-s", path, "true"]).returncode != 0:
            return holder
        time.sleep(0.05)
    holder.kill()
    raise AssertionError("flock did not take the lock")


def test_a_user_holding_their_record_lock_cannot_starve_twostepd(user, daemon, users):
    """A dozen Verify calls of a user whose record is locked: before, they
    took every one of twostepd's call threads for ever and root's calls
    hung. Now that user's calls end within the lock's wait (5 s), those
    beyond the per-uid bound at once, and root is answered meanwhile."""
    user.enroll()
    other = User(daemon, users.make())
    other.enroll()
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    holder = hold_lock(daemon.record(user))
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            t0 = time.monotonic()
            calls = [pool.submit(lambda: (varlink_call(manage, "io.twostep.Manage.Verify", {"code": "123456"},
                                                       uid=user.account.uid), time.monotonic() - t0))
                     for _ in range(12)]
            time.sleep(1)
            t1 = time.monotonic()
            reply = varlink_call(manage, "io.twostep.Manage.Status", {"user": other.name})
            assert time.monotonic() - t1 < 3, "root's call waited behind the locked user's calls"
            assert reply.get("parameters", {}).get("enabled") is True, reply
            replies = [c.result(timeout=30) for c in calls]
        errors = sorted(r.get("error", "none") for r, _ in replies)
        assert errors.count("io.twostep.Manage.Busy") == 10, errors  # beyond 2 at once: at once
        assert errors.count("io.twostep.Manage.StoreProblem") == 2, errors  # the lock's wait ran out
        assert all("busy" in r["parameters"]["message"] for r, _ in replies), replies
        assert max(seconds for _, seconds in replies) < 10, replies
        # The user's own command: exit 3 (a store problem), saying so, within the wait.
        t2 = time.monotonic()
        r = user.run("verify", "--code", "123456")
        assert r.returncode == 3 and "busy" in r.stderr, r
        assert time.monotonic() - t2 < 10
    finally:
        holder.kill()
        holder.wait()
    assert user.run("status", "--json").returncode == 0
