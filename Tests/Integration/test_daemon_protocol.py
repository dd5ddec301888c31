"""twostepd's Varlink server (SPEC §8, §9's Login socket): the protocol,
hostile clients, sockets, signals, socket activation and the systemd units.

A real twostepd runs as a subprocess (`twostepd-test --socket-dir DIR
--test-interface`: twostepd built with io.twostep.Test, which the shipped
twostepd does not have): io.twostep.Manage (0666), io.twostep.Login (0600,
uid 0 only) and, for these tests, io.twostep.Test (0600, uid 0 only: Sleep,
Echo, Peer, Hold, Fail), whose methods do not depend on io.twostep.Manage's. Clients are
raw sockets (one JSON object per message, NUL-terminated) and Python's
`varlink` package. After every hostile case another client must be served
at once, and the daemon must be alive with its descriptors and memory
bounded.

TWOSTEP_DAEMON_TEST names twostepd-test, TWOSTEP_DAEMON twostepd (the tests
of what only the shipped binary does: its refusals, socket activation);
default: the debug builds.
"""

import array
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = os.path.join(REPO, "packaging", "systemd")
MANAGE, LOGIN, TEST = "io.twostep.Manage", "io.twostep.Login", "io.twostep.Test"
IDLE_TIMEOUT = 10  # DaemonLimits.idleTimeout
MAX_MESSAGE = 64 * 1024  # DaemonLimits.messageBytes
MAX_CONNECTIONS = 1024  # DaemonLimits.manageConnections.total
ROOT_RESERVED = 64  # DaemonLimits.manageConnections.reservedForRoot
PER_USER = 16  # DaemonLimits.manageConnections.perUser
LIFETIME = 60  # DaemonLimits.connectionLifetime


@pytest.fixture(scope="module", autouse=True)
def root_only():
    if os.geteuid() != 0:
        pytest.skip("twostepd's tests run as root (peer uid checks, runuser)")


def config_file(directory):
    """An empty twostep.conf, root-owned 0644: the built-in defaults."""
    path = os.path.join(directory, "twostep.conf")
    with open(path, "w") as f:
        f.write("# twostepd protocol tests: defaults\n")
    os.chmod(path, 0o644)
    return path


class Daemon:
    """`twostepd-test --socket-dir DIR --test-interface` in the foreground."""

    def __init__(self, binary, top, *extra, socket_dir=None):
        self.top = str(top)
        # Sockets in a short path (sun_path holds 107 bytes) that every
        # user can reach (pytest's tmp_path is root's alone).
        self.dir = socket_dir or os.path.join(short_dir(), "run")
        self.log_path = os.path.join(self.top, "twostepd.log")
        self.log = open(self.log_path, "w")
        self.argv = [binary, "--socket-dir", self.dir, "--config", config_file(self.top), "--test-interface", *extra]
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for_socket(self.path(TEST), self.proc, self.logtext)

    def settle(self, seconds=10):
        """Waits until start-up is over: the sockets are bound before the
        rest (signal handling, the second thread pool) is set up, so a
        descriptor count taken at once can be a few short of the count
        the daemon keeps (on a loaded machine: 10, then 16). Done when the
        count holds still for half a second."""
        end = time.monotonic() + seconds
        last, since = self.fds(), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.05)
            now = self.fds()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= 0.5:
                return

    def path(self, name):
        return os.path.join(self.dir, name)

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def assert_healthy(self, fd_baseline=None, rss_limit_kib=None):
        """Alive, and another client is answered at once."""
        assert self.proc.poll() is None, "twostepd died:\n" + self.logtext()
        start = time.monotonic()
        with connect(self.path(TEST)) as s:
            assert call(s, "io.twostep.Test.Echo", {"text": "still here"}) == {"parameters": {"text": "still here"}}
        assert time.monotonic() - start < 1.0, "a fresh client waited"
        if fd_baseline is not None:
            deadline = time.monotonic() + 5
            while self.fds() > fd_baseline + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert self.fds() <= fd_baseline + 2, f"descriptors grew: {fd_baseline} -> {self.fds()}"
        if rss_limit_kib is not None:
            assert self.rss_kib() < rss_limit_kib, f"RSS {self.rss_kib()} KiB"


def short_dir():
    path = tempfile.mkdtemp(prefix="twostepd-", dir="/tmp")
    os.chmod(path, 0o755)
    return path


def wait_for_socket(path, proc, logtext, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"twostepd exited {proc.returncode}:\n{logtext()}"
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"no socket at {path}:\n{logtext()}")


@pytest.fixture
def daemon(daemon_test_bin, tmp_path):
    d = Daemon(daemon_test_bin, tmp_path)
    d.settle()  # the tests count its descriptors
    yield d
    d.stop()
    shutil.rmtree(os.path.dirname(d.dir), ignore_errors=True)


def connect(path, timeout=15):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def send(s, message):
    """Sends a dict as one message; bytes as they are."""
    if isinstance(message, dict):
        message = json.dumps(message).encode() + b"\0"
    s.sendall(message)


class Reader:
    """NUL-framed messages from one socket (None at end of stream)."""

    def __init__(self, s):
        self.s, self.buffer = s, b""

    def next(self):
        while b"\0" not in self.buffer:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


def call(s, method, parameters=None, **flags):
    message = {"method": method, **flags}
    if parameters is not None:
        message["parameters"] = parameters
    send(s, message)
    return Reader(s).next()


def closed_by_peer(s, timeout=15):
    """True when the peer closes `s` (after any replies) within `timeout`."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# --- Listing and calling ----------------------------------------------------


def test_sockets_are_made_with_their_modes_in_a_new_0755_directory(daemon):
    assert os.stat(daemon.dir).st_mode & 0o7777 == 0o755
    for name, mode in ((MANAGE, 0o666), (LOGIN, 0o600), (TEST, 0o600)):
        st = os.stat(daemon.path(name))
        assert (st.st_mode & 0o170000, st.st_mode & 0o7777, st.st_uid) == (0o140000, mode, 0), name


def test_python_varlink_lists_the_interfaces_and_calls_a_method(daemon):
    import varlink

    with varlink.Client(address="unix:" + daemon.path(MANAGE)) as client:
        with client.open("org.varlink.service") as service:
            info = service.GetInfo()
            assert info["vendor"] == "twostep" and info["product"] == "twostepd"
            assert info["interfaces"] == ["org.varlink.service", MANAGE]
            for name in info["interfaces"]:
                text = service.GetInterfaceDescription(name)["description"]
                assert varlink.Interface(text).name == name  # the IDL parses
            with pytest.raises(varlink.InterfaceNotFound):
                service.GetInterfaceDescription("io.example.Nothing")
        # io.twostep.Manage's own IDL as a generic client sees it.
        with client.open(MANAGE) as manage:
            assert manage
    with varlink.Client(address="unix:" + daemon.path(TEST)) as client:
        with client.open(TEST) as test:
            assert test.Echo("hello") == {"text": "hello"}
            peer = test.Peer()
            assert (peer["uid"], peer["gid"], peer["pid"]) == (0, os.getgid(), os.getpid())
            with pytest.raises(varlink.VarlinkError) as failed:
                test.Fail()
            assert failed.value.error() == "io.twostep.Test.Failed"
            assert failed.value.parameters() == {"reason": "asked to fail"}


def test_the_shipped_twostepd_has_no_test_interface(daemon_bin, tmp_path):
    """io.twostep.Test is twostepd-test's alone: twostepd does not hold it,
    refuses --test-interface, and answers it nowhere."""
    with open(daemon_bin, "rb") as f:
        assert TEST.encode() not in f.read()
    conf = config_file(str(tmp_path))
    run = os.path.join(short_dir(), "run")
    refused = subprocess.run([daemon_bin, "--socket-dir", run, "--config", conf, "--test-interface"],
                             capture_output=True, text=True, timeout=20)
    assert refused.returncode == 64 and "--test-interface" in refused.stderr, refused
    log = open(os.path.join(str(tmp_path), "twostepd.log"), "w+")
    proc = subprocess.Popen([daemon_bin, "--socket-dir", run, "--config", conf], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        wait_for_socket(os.path.join(run, LOGIN), proc, lambda: open(log.name).read())
        assert sorted(os.listdir(run)) == [LOGIN, MANAGE]
        for name in (MANAGE, LOGIN):
            with connect(os.path.join(run, name)) as s:
                assert TEST not in call(s, "org.varlink.service.GetInfo")["parameters"]["interfaces"]
                assert call(s, "io.twostep.Test.Echo", {"text": "x"}) == {
                    "error": "org.varlink.service.InterfaceNotFound", "parameters": {"interface": TEST}}
                assert call(s, "org.varlink.service.GetInterfaceDescription", {"interface": TEST}) == {
                    "error": "org.varlink.service.InterfaceNotFound", "parameters": {"interface": TEST}}
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
        log.close()
        shutil.rmtree(os.path.dirname(run), ignore_errors=True)


def test_get_info_version_is_the_packages(daemon):
    version = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(REPO, "debian/changelog"),
                              "-S", "Version"], capture_output=True, text=True, check=True).stdout.strip()
    with connect(daemon.path(MANAGE)) as s:
        assert call(s, "org.varlink.service.GetInfo")["parameters"]["version"] == version


def test_standard_errors_keep_the_connection(daemon):
    with connect(daemon.path(TEST)) as s:
        cases = [
            ("io.example.Nope", None, {}, "org.varlink.service.InterfaceNotFound", {"interface": "io.example"}),
            ("io.twostep.Test.Nope", None, {}, "org.varlink.service.MethodNotFound", {"method": "io.twostep.Test.Nope"}),
            ("org.varlink.service.Nope", None, {}, "org.varlink.service.MethodNotFound",
             {"method": "org.varlink.service.Nope"}),
            ("io.twostep.Test.Echo", {"text": "x"}, {"more": True}, "org.varlink.service.MethodNotImplemented",
             {"method": "io.twostep.Test.Echo"}),
            ("io.twostep.Test.Echo", {"text": "x"}, {"upgrade": True}, "org.varlink.service.MethodNotImplemented",
             {"method": "io.twostep.Test.Echo"}),
            ("io.twostep.Test.Echo", {"text": 5}, {}, "org.varlink.service.InvalidParameter", {"parameter": "text"}),
            ("io.twostep.Test.Echo", {"text": "x", "admin": True}, {}, "org.varlink.service.InvalidParameter",
             {"parameter": "admin"}),
            ("io.twostep.Test.Echo", None, {}, "org.varlink.service.InvalidParameter", {"parameter": "text"}),
            ("org.varlink.service.GetInterfaceDescription", {"interface": LOGIN}, {},
             "org.varlink.service.InterfaceNotFound", {"interface": LOGIN}),
        ]
        for method, parameters, flags, error, error_parameters in cases:
            assert call(s, method, parameters, **flags) == {"error": error, "parameters": error_parameters}, method
        assert call(s, "io.twostep.Test.Echo", {"text": "ok"}) == {"parameters": {"text": "ok"}}


def test_oneway_calls_get_no_reply_and_replies_stay_in_order(daemon):
    with connect(daemon.path(TEST)) as s:
        batch = b""
        for i in range(100):
            batch += json.dumps({"method": "io.twostep.Test.Echo", "parameters": {"text": str(i)}}).encode() + b"\0"
            batch += json.dumps({"method": "io.twostep.Test.Echo", "parameters": {"text": "silent"},
                                 "oneway": True}).encode() + b"\0"
            batch += json.dumps({"method": "io.example.Nope", "oneway": True}).encode() + b"\0"
        s.sendall(batch)
        reader = Reader(s)
        assert [reader.next()["parameters"]["text"] for _ in range(100)] == [str(i) for i in range(100)]
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(1)


def test_a_reply_comes_after_a_half_close(daemon):
    with connect(daemon.path(TEST)) as s:
        send(s, {"method": "io.twostep.Test.Echo", "parameters": {"text": "bye"}})
        s.shutdown(socket.SHUT_WR)
        reader = Reader(s)
        assert reader.next() == {"parameters": {"text": "bye"}}
        assert reader.next() is None


# --- Hostile clients -----------------------------------------------------------


@pytest.mark.parametrize("name,payload", [
    ("over 64 KiB with its NUL", b'{"method":"io.twostep.Test.Echo","parameters":{"text":"'
     + b"x" * (MAX_MESSAGE + 100) + b'"}}\0'),
    ("over 64 KiB and no NUL", b"x" * (MAX_MESSAGE + 4096)),
    ("bad JSON", b'{"method": "io.twostep.Test.Echo", \0'),
    ("not an object", b'["io.twostep.Test.Echo"]\0'),
    ("no method", b'{"parameters":{}}\0'),
    ("method not a string", b'{"method":42}\0'),
    ("parameters not an object", b'{"method":"io.twostep.Test.Echo","parameters":"text"}\0'),
    ("not UTF-8", b'{"method":"io.twostep.Test.\xff\xfe"}\0'),
    ("deep nesting", b'{"method":"io.twostep.Test.Echo","parameters":{"text":' + b"[" * 60000 + b"}}\0"),
])
def test_a_malformed_message_gets_invalid_parameter_then_a_closed_connection(daemon, name, payload):
    baseline = daemon.fds()
    with connect(daemon.path(TEST)) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed before it read everything: also an answer
        reader = Reader(s)
        try:
            reply = reader.next()
        except ConnectionResetError:
            reply = None
        if reply is not None:
            assert reply["error"] == "org.varlink.service.InvalidParameter", (name, reply)
            assert reply["parameters"]["parameter"] in ("message", "method", "parameters"), (name, reply)
        assert closed_by_peer(s, timeout=5), name
    daemon.assert_healthy(fd_baseline=baseline)


def test_silent_slow_and_non_reading_clients_are_closed_after_10_s_and_others_are_served(daemon):
    baseline = daemon.fds()
    silent = [connect(daemon.path(TEST)) for _ in range(20)]
    partial = connect(daemon.path(TEST))
    partial.sendall(b'{"method":"io.twostep.Test.Echo"')
    drip = connect(daemon.path(TEST))
    # A client that sends calls and never reads a reply: the daemon stops
    # reading from it once its replies back up.
    flood = connect(daemon.path(TEST))
    flood.setblocking(False)
    request = json.dumps({"method": "org.varlink.service.GetInterfaceDescription",
                          "parameters": {"interface": "org.varlink.service"}}).encode() + b"\0"
    sent = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            flood.send(request)
            sent += 1
        except BlockingIOError:
            break
    assert sent < 100000, "the daemon kept reading from a client that reads no reply"
    start = time.monotonic()
    stop_drip = threading.Event()

    def dripping():
        # One byte a second of a message that never ends.
        for byte in b'{"method":"io.twostep.Test.Echo","parameters":{"text":"' + b"y" * 100:
            if stop_drip.wait(1):
                return
            try:
                drip.send(bytes([byte]))
            except OSError:
                return

    thread = threading.Thread(target=dripping)
    thread.start()
    try:
        # Meanwhile the daemon serves everyone else at once.
        for _ in range(5):
            daemon.assert_healthy()
            time.sleep(1)
        rss_during = daemon.rss_kib()
        waiting = silent + [partial, drip]
        results = [closed_by_peer(s, timeout=IDLE_TIMEOUT + 5 - (time.monotonic() - start)) for s in waiting]
        elapsed = time.monotonic() - start
        assert all(results), list(zip(["silent"] * len(silent) + ["partial", "drip"], results))[-3:]
        assert IDLE_TIMEOUT - 1 <= elapsed <= IDLE_TIMEOUT + 5, elapsed
        # The flooder, read only now: the replies that were written, then
        # the end (reading earlier would let the daemon go on answering).
        time.sleep(max(0, start + IDLE_TIMEOUT + 1.5 - time.monotonic()))
        assert closed_by_peer(flood, timeout=5), "a client that reads no reply was not closed"
    finally:
        stop_drip.set()
        thread.join()
        for s in silent + [partial, drip, flood]:
            s.close()
    daemon.assert_healthy(fd_baseline=baseline, rss_limit_kib=max(rss_during, 1) + 64 * 1024)


def test_passed_file_descriptors_are_not_kept(daemon):
    baseline = daemon.fds()
    devnull = os.open("/dev/null", os.O_RDONLY)
    try:
        with connect(daemon.path(TEST)) as s:
            fds = array.array("i", [devnull] * 200)
            for i in range(20):
                message = json.dumps({"method": "io.twostep.Test.Echo", "parameters": {"text": str(i)}}).encode() + b"\0"
                s.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            reader = Reader(s)
            assert [reader.next()["parameters"]["text"] for _ in range(20)] == [str(i) for i in range(20)]
            assert daemon.fds() <= baseline + 2, f"{baseline} -> {daemon.fds()}: passed descriptors kept"
        # Passed with nothing else: no message, then the connection closes.
        with connect(daemon.path(TEST)) as s:
            s.sendmsg([b" "], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [devnull] * 100))])
    finally:
        os.close(devnull)
    daemon.assert_healthy(fd_baseline=baseline)


def test_300_connections_at_once_are_all_served(daemon):
    baseline = daemon.fds()
    sockets = [connect(daemon.path(MANAGE)) for _ in range(300)]
    try:
        for s in sockets:
            send(s, {"method": "org.varlink.service.GetInfo"})
        for s in sockets:
            assert Reader(s).next()["parameters"]["product"] == "twostepd"
        daemon.assert_healthy()
    finally:
        for s in sockets:
            s.close()
    daemon.assert_healthy(fd_baseline=baseline)


def test_connections_beyond_the_limit_are_closed(daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + 200
    if soft < wanted + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted + 256), hard))
    baseline = daemon.fds()
    sockets = []
    try:
        for _ in range(MAX_CONNECTIONS - ROOT_RESERVED):
            sockets.append(connect(daemon.path(MANAGE), timeout=10))
        send(sockets[-1], {"method": "org.varlink.service.GetInfo"})
        assert Reader(sockets[-1]).next() is not None
        # The last connections are root's: another uid is refused now.
        assert as_uid(daemon.path(MANAGE), 65534) == "closed"
        for _ in range(wanted - len(sockets)):
            sockets.append(connect(daemon.path(MANAGE), timeout=10))
        assert closed_by_peer(sockets[-1], timeout=10)  # every one accepted by now
        # io.twostep.Manage full: root is still served at once on the Login
        # socket, which has a budget of its own.
        start = time.monotonic()
        with connect(daemon.path(LOGIN)) as s:
            assert call(s, "org.varlink.service.GetInfo")["parameters"]["product"] == "twostepd"
        assert time.monotonic() - start < 1.0
        served = refused = 0
        for s in sockets:
            try:
                send(s, {"method": "org.varlink.service.GetInfo"})
                reply = Reader(s).next()
            except (BrokenPipeError, ConnectionResetError):
                reply = None
            if reply is None:
                refused += 1
            else:
                served += 1
        assert served == MAX_CONNECTIONS and refused == wanted - MAX_CONNECTIONS, (served, refused)
    finally:
        for s in sockets:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    daemon.assert_healthy(fd_baseline=baseline)


# One uid holding connections open, busy enough never to be idle: a call
# every 4 s on each, until the daemon closes it.
FLOOD = r"""
import json, socket, sys, time
path, count = sys.argv[1], int(sys.argv[2])
message = json.dumps({"method": "org.varlink.service.GetInfo"}).encode() + b"\0"

def ask(s):
    try:
        s.sendall(message)
        data = b""
        while not data.endswith(b"\0"):
            chunk = s.recv(65536)
            if not chunk:
                return False
            data += chunk
        return True
    except OSError:
        return False

sockets = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    sockets.append(s)
opened = time.monotonic()
served = [s for s in sockets if ask(s)]
print(json.dumps({"served": len(served)}), flush=True)
ends = []
while served and time.monotonic() - opened < 90:
    time.sleep(4)
    still = []
    for s in served:
        if ask(s):
            still.append(s)
        else:
            ends.append(time.monotonic() - opened)
    served = still
print(json.dumps({"open": len(served), "ends": ends}), flush=True)
"""


def test_a_flood_from_one_uid_leaves_others_and_root_served_and_connections_end_after_60_s(daemon):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # nobody, with the script's output into the pipe
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.dup2(w, 1)
            sys.argv = ["flood", daemon.path(MANAGE), "200"]
            sys.stdout = os.fdopen(1, "w")
            exec(FLOOD, {"__name__": "__main__"})
            sys.stdout.flush()
        finally:
            os._exit(0)
    os.close(w)
    output = os.fdopen(r)
    try:
        first = output.readline()
        assert json.loads(first) == {"served": PER_USER}, first
        # nobody has no room left; another uid, and root on either socket,
        # is served at once.
        assert as_nobody(daemon.path(MANAGE)) == "closed"
        start = time.monotonic()
        assert json.loads(as_uid(daemon.path(MANAGE), 4242))["parameters"]["product"] == "twostepd"
        for name in (MANAGE, LOGIN):
            with connect(daemon.path(name)) as s:
                assert call(s, "org.varlink.service.GetInfo")["parameters"]["product"] == "twostepd"
        assert time.monotonic() - start < 1.5, "other clients waited"
        # However busy, each of nobody's connections is closed after 60 s.
        last = json.loads(output.readline())
        assert last["open"] == 0 and len(last["ends"]) == PER_USER, last
        assert all(LIFETIME - 2 <= t <= LIFETIME + 8 for t in last["ends"]), last
    finally:
        output.close()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    assert json.loads(as_nobody(daemon.path(MANAGE)))["parameters"]["product"] == "twostepd"
    log = daemon.logtext()
    assert "uid 65534 already has 16 connections open" in log
    # Opening and closing are logged at debug only (a user could flood the journal).
    assert "connection opened" not in log and "connection closed" not in log
    daemon.assert_healthy()


def test_a_connection_whose_call_runs_is_read_no_further_than_one_buffer(daemon):
    burst = json.dumps({"method": "io.twostep.Test.Sleep", "parameters": {"seconds": 4}}).encode() + b"\0" \
        + b"x" * (1024 * 1024)

    def accepted(s, data):
        """How much of `data` the peer lets `s` send within 1.5 s."""
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                sent += s.send(data[sent:sent + 256 * 1024])
            except BlockingIOError:
                time.sleep(0.02)
        return sent

    # What the kernel holds for a peer that reads nothing.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        kernel = accepted(a, burst)
    with connect(daemon.path(TEST)) as s:
        # Large messages first, so that NIO's read buffer grows to its 64 KiB.
        for _ in range(3):
            text = "y" * (60 * 1024)
            assert call(s, "io.twostep.Test.Echo", {"text": text}) == {"parameters": {"text": text}}
        taken = accepted(s, burst)
    # The read that brought the call, and nothing more while it runs.
    assert taken - kernel <= MAX_MESSAGE + 16 * 1024, (taken, kernel)
    daemon.assert_healthy()


def test_idle_exit_waits_while_an_interface_holds_state(daemon_test_bin, tmp_path):
    d = Daemon(daemon_test_bin, tmp_path, "--idle-exit", "2")
    try:
        with connect(d.path(TEST)) as s:
            assert call(s, "io.twostep.Test.Hold", {"seconds": 5}) == {"parameters": {}}
        start = time.monotonic()
        time.sleep(4)
        assert d.proc.poll() is None, "exited while an interface held state:\n" + d.logtext()
        assert d.proc.wait(10) == 0
        assert 6.5 <= time.monotonic() - start <= 9.5, time.monotonic() - start
        assert "idle, exiting" in d.logtext()
    finally:
        d.stop()
        shutil.rmtree(os.path.dirname(d.dir), ignore_errors=True)


def test_slow_calls_do_not_delay_other_clients_and_one_connection_is_answered_in_order(daemon):
    slow = [connect(daemon.path(TEST)) for _ in range(4)]
    start = time.monotonic()
    for s in slow:
        send(s, {"method": "io.twostep.Test.Sleep", "parameters": {"seconds": 2}})
    # The same connection: its next call waits for the slow one.
    send(slow[0], {"method": "io.twostep.Test.Echo", "parameters": {"text": "after"}})
    time.sleep(0.2)
    for _ in range(10):
        daemon.assert_healthy()
        with connect(daemon.path(MANAGE)) as s:
            assert "parameters" in call(s, "org.varlink.service.GetInfo")
    assert time.monotonic() - start < 1.8, "other clients waited for the slow calls"
    reader = Reader(slow[0])
    assert reader.next() == {"parameters": {}}
    assert reader.next() == {"parameters": {"text": "after"}}
    assert time.monotonic() - start >= 2
    for s in slow[1:]:
        assert Reader(s).next() == {"parameters": {}}
        s.close()
    slow[0].close()


# --- Who may connect -----------------------------------------------------------


def as_nobody(path):
    """Connects to `path` as nobody and calls GetInfo: the reply, 'refused'
    (EACCES) or 'closed' (no reply, connection closed)."""
    return as_uid(path, 65534)


def as_uid(path, uid):
    """as_nobody, as `uid` (which need not exist)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        result = "error"
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                with connect(path, timeout=5) as s:
                    send(s, {"method": "org.varlink.service.GetInfo"})
                    reply = Reader(s).next()
                    result = json.dumps(reply) if reply is not None else "closed"
            except PermissionError:
                result = "refused"
            except (ConnectionResetError, BrokenPipeError):
                result = "closed"
        finally:
            os.write(w, result.encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        result = f.read()
    os.waitpid(pid, 0)
    return result


def test_every_user_may_use_manage_and_only_root_login(daemon):
    assert json.loads(as_nobody(daemon.path(MANAGE)))["parameters"]["product"] == "twostepd"
    assert as_nobody(daemon.path(LOGIN)) == "refused"  # mode 0600
    # Even with the socket opened up, a peer whose uid is not 0 gets nothing.
    os.chmod(daemon.path(LOGIN), 0o666)
    os.chmod(daemon.path(TEST), 0o666)
    assert as_nobody(daemon.path(LOGIN)) == "closed"
    assert as_nobody(daemon.path(TEST)) == "closed"
    assert "refused: this socket serves uid 0 only" in daemon.logtext()
    with connect(daemon.path(LOGIN)) as s:
        assert call(s, "org.varlink.service.GetInfo")["parameters"]["interfaces"][0] == "org.varlink.service"
    daemon.assert_healthy()


def test_the_log_names_methods_and_errors_never_parameter_values(daemon):
    with connect(daemon.path(TEST)) as s:
        call(s, "io.twostep.Test.Echo", {"text": "secret-123456"})
        call(s, "io.twostep.Test.Echo", {"text": "code-654321", "extra": "hunter2"})
        call(s, "io.twostep.Test.Fail")
    time.sleep(0.2)
    log = daemon.logtext()
    assert "io.twostep.Test.Echo" in log and "io.twostep.Test.Failed" in log
    for secret in ("secret-123456", "654321", "hunter2"):
        assert secret not in log


# --- Start, stop, sockets --------------------------------------------------------


def test_sigterm_lets_a_running_call_finish_then_exits_0_and_removes_the_sockets(daemon):
    with connect(daemon.path(TEST)) as busy, connect(daemon.path(TEST)) as idle:
        send(busy, {"method": "io.twostep.Test.Sleep", "parameters": {"seconds": 2}})
        time.sleep(0.3)
        daemon.proc.send_signal(signal.SIGTERM)
        assert Reader(busy).next() == {"parameters": {}}
        assert closed_by_peer(idle, timeout=5)
    assert daemon.proc.wait(10) == 0
    for name in (MANAGE, LOGIN, TEST):
        assert not os.path.exists(daemon.path(name))
    assert "stopped" in daemon.logtext()


def test_sigint_exits_0(daemon):
    assert daemon.stop(signal.SIGINT) == 0


def test_stale_sockets_are_replaced_but_other_files_and_live_sockets_are_not(daemon_test_bin, tmp_path):
    run = pathlib.Path(short_dir())
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(run / MANAGE))
    stale.close()  # the file stays: a daemon killed with -9 leaves this
    d = Daemon(daemon_test_bin, tmp_path, socket_dir=str(run))
    try:
        d.assert_healthy()
        # A second daemon must not take the live sockets away.
        second = subprocess.run(d.argv, capture_output=True, text=True, timeout=20)
        assert second.returncode == 1 and "another process is serving this socket" in second.stderr
        d.assert_healthy()
    finally:
        assert d.stop() == 0
    (run / LOGIN).write_text("not a socket")
    result = subprocess.run(d.argv, capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and "exists and is not a socket" in result.stderr
    assert (run / LOGIN).read_text() == "not a socket"
    shutil.rmtree(run)


def test_socket_dir_must_be_roots_own_directory_not_a_link_nor_open_to_others(daemon_bin, tmp_path):
    top = pathlib.Path(short_dir())
    try:
        real = top / "real"
        real.mkdir()
        os.chmod(real, 0o755)
        (top / "link").symlink_to(real)
        cases = {"link": "is a symbolic link", "other": "owned by uid 65534", "sticky": "writable by group or others",
                 "group": "writable by group or others"}
        for name, mode, owner in (("other", 0o755, 65534), ("sticky", 0o1777, 0), ("group", 0o775, 0)):
            (top / name).mkdir()
            os.chmod(top / name, mode)
            os.chown(top / name, owner, owner)
        conf = config_file(str(tmp_path))
        for name, message in cases.items():
            r = subprocess.run([daemon_bin, "--socket-dir", str(top / name), "--config", conf],
                               capture_output=True, text=True, timeout=20)
            assert r.returncode == 1 and message in r.stderr, (name, r)
            assert not any(p.is_socket() for p in (top / name).iterdir()), name
        # A link at a socket's path is neither followed nor changed: a
        # socket's mode is set as it is made, never by path.
        target = top / "target"
        target.write_text("root's")
        os.chmod(target, 0o600)
        (real / LOGIN).symlink_to(target)
        r = subprocess.run([daemon_bin, "--socket-dir", str(real), "--config", conf],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and "exists and is not a socket" in r.stderr, r
        assert os.stat(target).st_mode & 0o7777 == 0o600
    finally:
        shutil.rmtree(top)


def test_a_bad_configuration_is_exit_2_naming_the_file(daemon_bin, tmp_path):
    conf = tmp_path / "twostep.conf"
    conf.write_text("no_such_key=1\n")
    os.chmod(conf, 0o644)
    result = subprocess.run([daemon_bin, "--socket-dir", str(tmp_path / "run"), "--config", str(conf)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2, result
    assert str(conf) in result.stderr
    assert not (tmp_path / "run" / MANAGE).exists()


def test_idle_exit_after_the_last_connection(daemon_test_bin, tmp_path):
    d = Daemon(daemon_test_bin, tmp_path, "--idle-exit", "2")
    with connect(d.path(TEST)) as s:
        time.sleep(2.5)  # an open connection keeps it running
        assert call(s, "io.twostep.Test.Echo", {"text": "x"}) == {"parameters": {"text": "x"}}
    start = time.monotonic()
    assert d.proc.wait(10) == 0
    assert 1.5 <= time.monotonic() - start <= 6
    d.stop()
    shutil.rmtree(os.path.dirname(d.dir), ignore_errors=True)


# --- systemd ---------------------------------------------------------------------


def socket_activate(daemon_bin, tmp_path, names, *extra):
    tmp = str(tmp_path)
    argv = ["systemd-socket-activate"]
    for name in names:
        argv += ["-l", os.path.join(tmp, name)]
    argv += ["--fdname=" + ":".join(names), daemon_bin, "--config", config_file(tmp), *extra]
    log = open(os.path.join(tmp, "activate.log"), "w+")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def logtext():
        log.seek(0)
        return log.read()

    wait_for_socket(os.path.join(tmp, names[0]), proc, logtext)
    return proc, logtext


def test_socket_activation_serves_the_passed_sockets_then_exits_when_idle(daemon_bin, tmp_path):
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("no systemd-socket-activate (Debian package systemd)")
    proc, logtext = socket_activate(daemon_bin, tmp_path, [MANAGE, LOGIN], "--idle-exit", "2")
    try:
        with connect(os.path.join(tmp_path, MANAGE)) as s:
            assert call(s, "org.varlink.service.GetInfo")["parameters"]["interfaces"] == ["org.varlink.service", MANAGE]
        with connect(os.path.join(tmp_path, LOGIN)) as s:
            assert call(s, "org.varlink.service.GetInfo")["parameters"]["interfaces"][0] == "org.varlink.service"
        assert proc.wait(15) == 0, logtext()
        assert "idle, exiting" in logtext()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_socket_activation_with_only_the_manage_socket(daemon_bin, tmp_path):
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("no systemd-socket-activate (Debian package systemd)")
    proc, logtext = socket_activate(daemon_bin, tmp_path, [MANAGE])
    try:
        with connect(os.path.join(tmp_path, MANAGE)) as s:
            assert call(s, "org.varlink.service.GetInterfaceDescription",
                        {"interface": MANAGE})["parameters"]["description"].find("interface " + MANAGE) >= 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, logtext()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_socket_activation_without_a_known_name_is_refused(daemon_bin, tmp_path):
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("no systemd-socket-activate (Debian package systemd)")
    proc, logtext = socket_activate(daemon_bin, tmp_path, ["io.example.Other"])
    try:
        with connect(os.path.join(tmp_path, "io.example.Other")) as s:
            assert closed_by_peer(s, timeout=10)
        assert proc.wait(15) == 1
        assert "no socket named io.twostep.Manage or io.twostep.Login" in logtext()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def unit_root(tmp_path):
    """A root for systemd-analyze: the host's units, ours, and an executable
    at /usr/sbin/twostepd (verify checks that ExecStart= can run)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze (Debian package systemd)")
    root = tmp_path / "root"
    system = root / "usr" / "lib" / "systemd" / "system"
    shutil.copytree("/usr/lib/systemd/system", system, symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    sbin = root / "usr" / "sbin"
    sbin.mkdir(parents=True)
    (sbin / "twostepd").write_text("#!/bin/sh\n")
    os.chmod(sbin / "twostepd", 0o755)
    for unit in ("twostepd.service", "twostepd.socket", "twostepd-login.socket"):
        shutil.copy(os.path.join(UNITS, unit), system / unit)
    return root


def man_pages(tmp_path):
    """The project's man pages (man/*.scd through scdoc) as a MANPATH, for
    verify's check that every Documentation=man: page exists."""
    if not shutil.which("scdoc"):
        pytest.skip("no scdoc (a build dependency)")
    top = tmp_path / "man"
    for source in sorted(os.listdir(os.path.join(REPO, "man"))):
        if source.endswith(".scd"):
            page = source[:-4]
            section = top / ("man" + page.rsplit(".", 1)[1])
            section.mkdir(parents=True, exist_ok=True)
            with open(os.path.join(REPO, "man", source)) as f, open(section / page, "w") as out:
                subprocess.run(["scdoc"], stdin=f, stdout=out, check=True)
    return str(top)


def test_units_pass_systemd_analyze_verify(tmp_path):
    root = unit_root(tmp_path)
    env = dict(os.environ, MANPATH=man_pages(tmp_path) + ":")
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "twostepd.service",
                             "twostepd.socket", "twostepd-login.socket"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_service_sandbox_rates_3_0_or_lower():
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze (Debian package systemd)")
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                             os.path.join(UNITS, "twostepd.service")], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for twostepd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 3.0, result.stdout


def test_units_name_the_sockets_the_daemon_matches():
    def settings(unit):
        with open(os.path.join(UNITS, unit)) as f:
            return dict(line.strip().split("=", 1) for line in f if "=" in line and not line.lstrip().startswith("#"))
    manage, login, service = (settings(u) for u in ("twostepd.socket", "twostepd-login.socket", "twostepd.service"))
    assert (manage["ListenStream"], manage["FileDescriptorName"], manage["SocketMode"]) == (
        "/run/twostep/" + MANAGE, MANAGE, "0666")
    assert (login["ListenStream"], login["FileDescriptorName"], login["SocketMode"]) == (
        "/run/twostep/" + LOGIN, LOGIN, "0600")
    assert manage["DirectoryMode"] == login["DirectoryMode"] == "0755"
    assert service["ExecStart"] == "/usr/sbin/twostepd"
    assert "User" not in service and "DynamicUser" not in service
