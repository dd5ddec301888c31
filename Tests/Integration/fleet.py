"""Fleet mode harness (issue 14, SPEC §9): a real PostgreSQL 15 started
with initdb/pg_ctl in a temporary directory, and "hosts": each a real
twostepd on its own socket directory and configuration, with its own PAM
service file pointing the real module at that socket (`config=`, whose
file says `socket_dir=`). The CLI reaches a host with TWOSTEP_CONFIG and
TWOSTEP_SOCKET_DIR. Codes come from pyotp.

  Fleet(daemon_bin, pam, hosts=8, extra="")  PostgreSQL + `hosts` started hosts
      (a context manager); enroll, login, run, race (one answer on every host
      at once), status; .pg, .hosts
  Fleet(..., standby="async"|"sync")  the same on a Cluster (.cluster, .pg is it)
  Postgres(top)   initdb/pg_ctl server: sql, record(user), stop, start, kill9,
                  pause/resume (SIGSTOP/SIGCONT: a server that does not answer)
  Postgres.standby_of(primary, top, name, port=None)  pg_basebackup -R, started
  Cluster(top, synchronous=False)  a primary and a streaming standby on
                  loopback; .primary, .standby, fail_over() (SIGKILL the primary,
                  promote the standby), rebuild_standby() (the dead one again, as
                  a standby of the new primary, on its old port)
  Host            one twostepd (a pamtest.DaemonProcess): start, stop, migrate,
                  cli(*args, user=) with its env, write_config, .pam (its PAM)
  SECRET, code_at(step, secret)   the shared test secret and its code at a step
  Wrong codes for hosts with window=10: harness.wrong_code(SECRET, window=10).
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pyotp

from harness import cli, current_step, free_port
from pamtest import PAM, DaemonProcess

PGBIN = os.environ.get("TWOSTEP_PGBIN", "/usr/lib/postgresql/15/bin")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
DB_PASSWORD = "fleet-" + secrets.token_hex(8)


def code_at(step, secret=SECRET):
    return pyotp.TOTP(secret).at(step * 30)


class Postgres:
    """A PostgreSQL server of our own: Unix socket in its directory, and
    127.0.0.1:PORT with scram-sha-256 for the role twostepd uses."""

    # database= for twostepd: its hosts and its parameters.
    uri_params = "sslmode=disable"

    def __init__(self, top, name="pg", port=None, primary=None):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir, exist_ok=True)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.port = port or free_port()
        self.log = os.path.join(self.dir, "server.log")
        if primary is not None:
            # A streaming standby: a base backup of the primary with
            # standby.signal and primary_conninfo (-R), over its socket.
            shutil.rmtree(self.data, ignore_errors=True)
            self.as_postgres([f"{PGBIN}/pg_basebackup", "-h", primary.dir, "-p", str(primary.port), "-U", "postgres",
                              "-D", self.data, "-R", "-X", "stream", "-c", "fast"])
            self.start()
            return
        self.as_postgres([f"{PGBIN}/initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8",
                          "--auth-local=trust", "--auth-host=scram-sha-256"])
        self.start()
        self.sql(f"CREATE ROLE twostep LOGIN PASSWORD '{DB_PASSWORD}'", db="postgres")
        self.sql("CREATE DATABASE twostep OWNER twostep", db="postgres")

    @classmethod
    def standby_of(cls, primary, top, name, port=None):
        return cls(top, name, port=port, primary=primary)

    @property
    def uri_hosts(self):
        return f"127.0.0.1:{self.port}"

    def as_postgres(self, argv, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, text=True,
                              cwd="/", timeout=120, **kw)

    def start(self):
        self.as_postgres([f"{PGBIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o",
                          f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=300", "start"])

    def stop(self, mode="fast"):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"],
                       capture_output=True, cwd="/", timeout=120)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def kill9(self):
        """SIGKILL to the postmaster and every backend: a crash."""
        pid = self.postmaster_pid()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for p in [pid, *map(int, children)]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 20
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
        for name in ("postmaster.pid",):
            try:
                os.unlink(os.path.join(self.data, name))
            except FileNotFoundError:
                pass

    def _pids(self):
        pid = self.postmaster_pid()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [pid, *map(int, children)]

    def pause(self):
        """SIGSTOP to the postmaster and every backend: connections are
        accepted by the kernel and nothing answers (a hung server)."""
        for p in self._pids():
            os.kill(p, signal.SIGSTOP)

    def resume(self):
        for p in self._pids():
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def in_recovery(self):
        return self.sql("SELECT pg_is_in_recovery()", db="postgres") == "t"

    def promote(self):
        self.as_postgres([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-t", "60", "promote"])

    def settings(self, **values):
        """ALTER SYSTEM SET each (None: RESET), then reload."""
        for key, value in values.items():
            if value is None:
                self.sql(f"ALTER SYSTEM RESET {key}", db="postgres")
            else:
                self.sql(f"ALTER SYSTEM SET {key} = '{value}'", db="postgres")
        self.sql("SELECT pg_reload_conf()", db="postgres")

    def sql(self, statement, db="twostep"):
        r = subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db, "-Atc", statement],
                           capture_output=True, text=True, cwd="/", timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def record(self, user):
        return self.sql(f"SELECT record FROM twostep_records WHERE username = '{user}'")

    def cleanup(self):
        self.stop("immediate")


class Host(DaemonProcess):
    """One host of the fleet: twostepd with its own sockets and configuration."""

    def __init__(self, index, top, daemon_bin, pg, pam, extra="", database="twostep"):
        self.index = index
        self.database = database
        self.top = os.path.join(top, f"host{index}")
        os.makedirs(self.top, mode=0o755)
        self.sockets = os.path.join(self.top, "run")
        os.makedirs(self.sockets, mode=0o755)
        self.password_file = os.path.join(self.top, "db-password")
        with open(os.open(self.password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(DB_PASSWORD + "\n")
        self.config = os.path.join(self.top, "twostep.conf")
        self.write_config(pg, extra)
        self.daemon_bin = daemon_bin
        self.cache = os.path.join(self.top, "cache")
        super().__init__(os.path.join(self.top, "twostepd.log"))
        # Each host has its own PAM configuration directory, with the same
        # service name on all (as sshd is on real hosts: a trusted device
        # names its service).
        self.pam = None
        self.service = "sshd"
        if pam:
            pamdir = os.path.join(self.top, "pam.d")
            os.makedirs(pamdir, mode=0o755)
            self.pam = PAM(pam.module, pam.pamdriver, pamdir)
            self.pam.service(self.service, f"config={self.config}")

    def write_config(self, pg, extra=""):
        with open(self.config, "w") as f:
            f.write(f"store=twostepd\nbackend=postgresql\n"
                    f"database=postgresql://twostep@{pg.uri_hosts}/{self.database}?{pg.uri_params}\n"
                    f"database_password_file={self.password_file}\ndatabase_timeout=2\n"
                    f"socket_dir={self.sockets}\n{extra}")
        os.chmod(self.config, 0o644)

    def start(self):
        return self.launch([self.daemon_bin, "--socket-dir", self.sockets, "--config", self.config, "--cache-dir", self.cache],
                           os.path.join(self.sockets, "io.twostep.Login"))

    @property
    def env(self):
        return dict(os.environ, TWOSTEP_CONFIG=self.config, TWOSTEP_SOCKET_DIR=self.sockets)

    def cli(self, *args, user=None, stdin=""):
        """`twostep ARGS` on this host (harness.cli with its env), as root or as `user`."""
        return cli(*args, user=user, stdin=stdin, env=self.env)

    def migrate(self):
        return subprocess.run([self.daemon_bin, "--migrate", "--config", self.config],
                              capture_output=True, text=True, timeout=60)


class Cluster:
    """A primary and a streaming standby (pg_basebackup -R) on loopback,
    as twostepd sees them: database= names both, target_session_attrs=
    read-write. With `synchronous`, the primary waits for the standby
    (synchronous_standby_names='*', synchronous_commit on, the default)."""

    def __init__(self, top, synchronous=False):
        self.top = top
        self.synchronous = synchronous
        first = Postgres(top, "pg1")
        self.servers = [first]
        self.servers.append(Postgres.standby_of(first, top, "pg2"))
        self.dead = None
        self._replicate(first)

    @property
    def uri_hosts(self):
        return ",".join(s.uri_hosts for s in self.servers)

    uri_params = "sslmode=disable&target_session_attrs=read-write"

    @property
    def primary(self):
        return next(s for s in self.servers if s is not self.dead and not s.in_recovery())

    @property
    def standby(self):
        return next(s for s in self.servers if s is not self.dead and s.in_recovery())

    def _replicate(self, primary):
        if self.synchronous:
            primary.settings(synchronous_standby_names="*")
        deadline = time.time() + 60
        want = "sync" if self.synchronous else "async"
        while time.time() < deadline:
            if primary.sql("SELECT count(*) FROM pg_stat_replication "
                           f"WHERE state = 'streaming' AND sync_state = '{want}'", db="postgres") == "1":
                return
            time.sleep(0.1)
        raise AssertionError("the standby does not stream: " + open(self.standby.log).read()[-2000:])

    def fail_over(self, clear_synchronous=True):
        """The primary SIGKILLed, the standby promoted. A two-node pair's
        promoted standby has no standby of its own: with
        `clear_synchronous` its synchronous_standby_names is cleared (else
        its commits wait for a standby that does not exist). Returns the
        new primary."""
        old, new = self.primary, self.standby
        old.kill9()
        self.dead = old
        new.promote()
        if clear_synchronous:
            new.settings(synchronous_standby_names=None)
        return new

    def rebuild_standby(self):
        """The dead server again, as a standby of the primary, on its port."""
        old, primary = self.dead, self.primary
        fresh = Postgres.standby_of(primary, self.top, os.path.basename(old.dir), port=old.port)
        self.servers[self.servers.index(old)] = fresh
        self.dead = None
        self._replicate(primary)

    def sql(self, statement, db="twostep"):
        return self.primary.sql(statement, db=db)

    def record(self, user):
        return self.primary.record(user)

    def cleanup(self):
        for s in self.servers:
            s.cleanup()


class Fleet:
    def __init__(self, daemon_bin, pam, hosts=8, extra="", standby=None):
        self.top = tempfile.mkdtemp(prefix="twostep-fleet-", dir="/var/tmp")
        os.chmod(self.top, 0o755)
        self.cluster = Cluster(self.top, synchronous=standby == "sync") if standby else None
        self.pg = self.cluster or Postgres(self.top)
        self.pam = pam
        self.hosts = [Host(i + 1, self.top, daemon_bin, self.pg, pam, extra) for i in range(hosts)]
        r = self.hosts[0].migrate()
        assert r.returncode == 0, r.stderr + r.stdout
        for h in self.hosts:
            h.start()

    def enroll(self, user, host=0, secret=SECRET):
        h = self.hosts[host]
        step = current_step()
        r = h.cli("enroll", "--user", user.name, "--secret", secret, "--code", code_at(step, secret), "--json")
        assert r.returncode == 0, r.stderr + h.logtext()
        return json.loads(r.stdout)

    def login(self, host, user, code, **kw):
        return self.run(host, user, answers=[code], **kw)

    def run(self, host, user, **kw):
        """A pamdriver run on host `host` (PAM.run's arguments)."""
        h = self.hosts[host]
        return h.pam.run(h.service, user, **kw)

    def race(self, user, code, hosts=None):
        """The same answer given on every host at once; the pamdriver results."""
        hosts = range(len(self.hosts)) if hosts is None else hosts
        procs = []
        for i in hosts:
            h = self.hosts[i]
            args = [h.pam.pamdriver, "--service", h.service, "--user", user.name,
                    "--answer", code, "--no-delay", "--confdir", h.pam.dir, "--quiet"]
            procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            results.append(next((l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("RESULT")), "NONE:" + err))
        return results

    def status(self, user, host=0):
        r = self.hosts[host].cli("status", "--user", user.name, "--json")
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        for h in self.hosts:
            h.stop()
        self.pg.cleanup()
        shutil.rmtree(self.top, ignore_errors=True)
