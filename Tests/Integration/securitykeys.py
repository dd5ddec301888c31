#!/usr/bin/env python3
"""securitykeys.py — real OpenSSH security keys (FIDO "sk" keys) with no
hardware, for integration tests (SPEC §11).

OpenSSH's own test provider, sk-dummy.so, makes valid ed25519-sk and
ecdsa-sk keys and signatures with no device (it sets the flags it is asked
for: touch, PIN). Debian ships it in the openssh-tests package, which is
never installed (it would pull in python3-twisted and putty-tools):
provider() downloads the openssh-tests that matches the installed
openssh-client (`apt-get download openssh-tests=VERSION`), extracts it
(`dpkg-deb -x`) and keeps only sk-dummy.so in the cache, so every later
run downloads nothing:

    $TWOSTEP_TEST_CACHE/sk-dummy/VERSION/sk-dummy.so
    (TWOSTEP_TEST_CACHE defaults to /var/cache/twostep-test, as Tests/System's)

A provider that cannot be had (no package lists, no network, the version
gone from the mirror, libmd0 or libcrypto3 missing) raises ProviderError
saying which and how to fix it; the `sk_provider` fixture turns that into
a test failure, never a skip.

    from securitykeys import *
    sk = provider()                                    # path of sk-dummy.so
    k = make_key(tmpdir, "vr", "ed25519-sk", verify_required=True)
    k.private, k.line, k.type, k.base64, k.blob, k.fingerprint
    authorized_keys_line(k, "verify-required")          # "verify-required sk-ssh-... AAAA... vr"
    install_authorized_keys(user, [k.line, ...])        # ~/.ssh/authorized_keys, owned by the user
    with Agent(sk) as agent:                           # ssh-agent -P sk-dummy.so
        agent.add(k)                                   # ssh-add -S sk-dummy.so
        env = agent.env                                # SSH_AUTH_SOCK for ssh / ssh_login.py

The OpenSSH 9.2 client does not read SSH_SK_PROVIDER (only ssh-keygen and
ssh-add do): `ssh` signs with an sk key through `-o SecurityKeyProvider=`
(ssh_options(sk)) or through an agent started with -P. ssh_login.py
--client openssh takes no extra ssh options, so tests log in through
Agent: the agent signs, ssh only needs SSH_AUTH_SOCK.

Run as a command, it fetches the provider and prints its path (make
test-deps does this once, while the network is there):

    python3 Tests/Integration/securitykeys.py provider
"""

import base64
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

try:
    import pytest
except ImportError:  # run as a command by make test-deps, before pip has installed pytest
    pytest = None

CACHE = os.environ.get("TWOSTEP_TEST_CACHE", "/var/cache/twostep-test")
SK_DUMMY_IN_PACKAGE = "usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so"

# The FIDO key types and the ssh-keygen -t names that make them.
SK_TYPES = {"ed25519-sk": "sk-ssh-ed25519@openssh.com", "ecdsa-sk": "sk-ecdsa-sha2-nistp256@openssh.com"}
PLAIN_TYPES = {"ed25519": "ssh-ed25519", "ecdsa": "ecdsa-sha2-nistp256"}


class ProviderError(RuntimeError):
    """sk-dummy.so could not be had; the message says why and what to do."""


def openssh_version():
    """The installed openssh-client's Debian version (e.g. 1:9.2p1-2+deb12u10)."""
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "openssh-client"], capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        raise ProviderError("openssh-client is not installed (dpkg-query: %s); apt-get install openssh-client"
                            % (p.stderr.strip() or "no version"))
    return p.stdout.strip()


def cached_provider_path(version=None):
    """Where provider() keeps sk-dummy.so for `version` (default: the installed one)."""
    version = version or openssh_version()
    return os.path.join(CACHE, "sk-dummy", version.replace(":", "%3a"), "sk-dummy.so")


def provider(log=None):
    """The path of sk-dummy.so matching the installed OpenSSH, downloaded
    into the cache the first time (one ~1 MB .deb). `log` (a callable)
    hears what is being done. Raises ProviderError."""
    version = openssh_version()
    path = cached_provider_path(version)
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.path.join(CACHE, "sk-dummy", ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once: one downloads
            if not os.path.isfile(path):
                _download(version, path, log or (lambda _: None))
    _check_libraries(path)
    return path


def _download(version, path, log):
    with tempfile.TemporaryDirectory(prefix="openssh-tests.", dir=os.path.dirname(path)) as work:
        os.chmod(work, 0o755)  # apt's _apt user writes the download here
        log(f"apt-get download openssh-tests={version}")
        t0 = time.monotonic()
        p = subprocess.run(["apt-get", "download", "-q", f"openssh-tests={version}"], cwd=work,
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0 and os.geteuid() == 0:
            # A fresh machine may have no package lists yet: fetch them once and try again.
            log("apt-get update")
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, timeout=600)
            p = subprocess.run(["apt-get", "download", "-q", f"openssh-tests={version}"], cwd=work,
                               capture_output=True, text=True, timeout=300)
        debs = [f for f in os.listdir(work) if f.endswith(".deb")]
        if p.returncode != 0 or len(debs) != 1:
            raise ProviderError(
                f"cannot get OpenSSH's sk-dummy.so: `apt-get download openssh-tests={version}` failed "
                f"(exit {p.returncode}): {(p.stderr or p.stdout).strip()[-600:]}\n"
                "It needs the package lists (apt-get update) and the network once; the provider is then "
                f"cached as {path}. openssh-tests must be the installed openssh-client's version.")
        tree = os.path.join(work, "tree")
        x = subprocess.run(["dpkg-deb", "-x", os.path.join(work, debs[0]), tree], capture_output=True, text=True)
        found = os.path.join(tree, SK_DUMMY_IN_PACKAGE)
        if x.returncode != 0 or not os.path.isfile(found):
            raise ProviderError(f"{debs[0]} holds no {SK_DUMMY_IN_PACKAGE} (dpkg-deb -x: {x.stderr.strip() or 'ok'})")
        partial = path + ".partial"
        shutil.copyfile(found, partial)
        os.chmod(partial, 0o755)
        os.rename(partial, path)
        log(f"cached {path} ({time.monotonic() - t0:.1f} s)")


def _check_libraries(path):
    p = subprocess.run(["ldd", path], capture_output=True, text=True)
    missing = [line.split()[0] for line in p.stdout.splitlines() if "not found" in line]
    if p.returncode != 0 or missing:
        raise ProviderError(f"{path} cannot be loaded: missing {', '.join(missing) or p.stderr.strip()} "
                            "(it needs libcrypto.so.3 and libmd.so.0: apt-get install libssl3 libmd0)")


@dataclass
class Key:
    """A key made by ssh-keygen: its files and its public half as OpenSSH writes it."""
    private: str       # path of the private key file (mode 0600)
    line: str          # the .pub line: "TYPE BASE64 COMMENT"
    type: str          # sk-ssh-ed25519@openssh.com, ssh-ed25519, …
    base64: str        # the blob as Base64 (as in authorized_keys and SSH_AUTH_INFO_0)
    comment: str
    fingerprint: str   # SHA256:… as ssh-keygen -l prints it
    kind: str          # the ssh-keygen -t name
    flags: tuple       # the -O flags it was made with ("verify-required", "no-touch-required")

    @property
    def blob(self):
        return base64.b64decode(self.base64, validate=True)

    @property
    def type_short(self):
        """The name sshd's log and ssh-keygen -l use (ED25519-SK, ECDSA-SK, ED25519, ECDSA)."""
        return self.kind.upper()

    @property
    def is_security_key(self):
        return self.kind in SK_TYPES


def make_key(directory, name, kind="ed25519-sk", verify_required=False, no_touch_required=False,
             application=None, sk=None):
    """A new key `directory/name` (no passphrase, comment `name`). For an sk
    kind, `sk` is the provider (default provider()); verify_required and
    no_touch_required are ssh-keygen's -O flags (sk-dummy honours both)."""
    if kind not in SK_TYPES and kind not in PLAIN_TYPES:
        raise ValueError(f"unknown key kind {kind!r}")
    path = os.path.join(directory, name)
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", path]
    flags = ()
    if kind in SK_TYPES:
        args += ["-w", sk or provider()]
        flags = tuple(f for f, on in (("verify-required", verify_required), ("no-touch-required", no_touch_required)) if on)
        for f in flags:
            args += ["-O", f]
        if application:
            args += ["-O", f"application={application}"]
    elif verify_required or no_touch_required or application:
        raise ValueError("-O flags are for sk keys only")
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {p.stderr.strip()}")
    line = open(path + ".pub").read().strip()
    type_, b64, comment = line.split(" ", 2)
    fp = subprocess.run(["ssh-keygen", "-lf", path + ".pub"], capture_output=True, text=True, check=True).stdout.split()[1]
    return Key(path, line, type_, b64, comment, fp, kind, flags)


def authorized_keys_line(key, options=None):
    """The key's authorized_keys line, with `options` (e.g. "verify-required") in front."""
    return f"{options} {key.line}" if options else key.line


def install_authorized_keys(user, lines):
    """Writes ~/.ssh/authorized_keys (one line each) for `user` (.home,
    .uid, .gid), with the owner and modes sshd's StrictModes wants."""
    ssh_dir = os.path.join(user.home, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    path = os.path.join(ssh_dir, "authorized_keys")
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    for p, mode in ((ssh_dir, 0o700), (path, 0o600)):
        os.chown(p, user.uid, user.gid)
        os.chmod(p, mode)
    return path


def ssh_options(sk):
    """What `ssh` needs to sign with an sk key file itself (no agent)."""
    return ["-o", f"SecurityKeyProvider={sk}"]


class Agent:
    """ssh-agent (-D, its own socket) allowed to load `sk` (-P); add() loads
    a key with ssh-add -S. Stopped on leaving the `with` block."""

    def __init__(self, sk):
        self.sk = sk
        self.dir = tempfile.mkdtemp(prefix="twostep-agent.")
        self.socket = os.path.join(self.dir, "agent.sock")
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(["ssh-agent", "-D", "-a", self.socket, "-P", self.sk],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if os.path.exists(self.socket):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        err = self.process.stderr.read().decode() if self.process.poll() is not None else "no socket after 5 s"
        self.__exit__()
        raise RuntimeError(f"ssh-agent did not start: {err}")

    @property
    def env(self):
        return dict(os.environ, SSH_AUTH_SOCK=self.socket)

    def add(self, key):
        p = subprocess.run(["ssh-add", "-S", self.sk, key.private], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"ssh-add {key.private} failed: {p.stderr.strip()}")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def _sk_provider():
    """The path of sk-dummy.so (fetched once, cached); a failure, not a skip, when unavailable."""
    try:
        return provider(log=print)
    except ProviderError as e:
        pytest.fail(str(e), pytrace=False)


sk_provider = pytest.fixture(scope="session", name="sk_provider")(_sk_provider) if pytest else None


__all__ = ["CACHE", "SK_TYPES", "PLAIN_TYPES", "ProviderError", "openssh_version", "cached_provider_path",
           "provider", "Key", "make_key", "authorized_keys_line", "install_authorized_keys", "ssh_options",
           "Agent", "sk_provider"]


if __name__ == "__main__":
    if sys.argv[1:] != ["provider"]:
        print("usage: securitykeys.py provider   (fetch sk-dummy.so into the cache, print its path)", file=sys.stderr)
        sys.exit(2)
    try:
        print(provider(log=lambda m: print("securitykeys: " + m, file=sys.stderr)))
    except ProviderError as e:
        print(f"securitykeys: {e}", file=sys.stderr)
        sys.exit(1)
