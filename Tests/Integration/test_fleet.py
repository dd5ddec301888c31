"""Issue 14: fleet mode. One enrolment valid on every host; each code
accepted at most once across the fleet, one failure count, never a silent
fail-open. See fleet.py for the harness (real PostgreSQL 15, 8 twostepd
instances, the real module through pamdriver)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fleet import PGBIN, SECRET, Fleet, code_at
from harness import REPO, cli, current_step, wrong_code
from pamtest import factor_text, totp_line
from pamtest import pamdriver, pam  # noqa: F401 (fixtures)

# The hosts' verifier window (extra="window=10"): a wrong code must be wrong for it.
WINDOW = 10


@pytest.fixture
def fleet(daemon_bin, pam):
    # A spent code given again counts as a wrong one (as on one host): the
    # 7 losers of every race add 7 failures, so the races run with a high
    # max_failures; the failure tests set their own.
    with Fleet(daemon_bin, pam, hosts=8, extra="window=10\nmax_failures=1000\n") as f:
        yield f


def test_enrol_on_host_1_log_in_on_host_8(fleet, users):
    u = users.make()
    fleet.enroll(u, host=0)
    step = current_step() + 1
    r = fleet.login(7, u, code_at(step))
    assert r.result == "PAM_SUCCESS", str(r) + fleet.hosts[7].logtext()
    # The same code on host 1 afterwards: a replay.
    r = fleet.login(0, u, code_at(step))
    assert r.result == "PAM_AUTH_ERR", r


def test_one_code_on_8_hosts_at_once_50_rounds_exactly_one_success(fleet, users):
    # window=10: after the enrolment spent the current step, the next ten
    # are valid fresh codes, given in increasing order; five users give 50.
    rounds = 0
    for _ in range(5):
        u = users.make()
        fleet.enroll(u, host=rounds % 8)
        first = current_step()
        for step in range(first + 1, first + 11):
            results = fleet.race(u, code_at(step))
            assert results.count("PAM_SUCCESS") == 1, (step, results)
            assert results.count("PAM_AUTH_ERR") == 7, (step, results)
            # A later replay, on any host, is refused.
            again = fleet.login((rounds * 3) % 8, u, code_at(step))
            assert again.result == "PAM_AUTH_ERR", again
            rounds += 1
    assert rounds == 50


def test_one_backup_code_on_8_hosts_exactly_one_success(fleet, users):
    u = users.make()
    codes = fleet.enroll(u)["backup_codes"]
    for code in codes[:3]:
        results = fleet.race(u, code)
        assert results.count("PAM_SUCCESS") == 1, results
    _, status = fleet.status(u, host=5)
    assert status["backup_codes_left"] == 7


def test_wrong_codes_on_8_hosts_add_up_to_one_count_and_one_lockout(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=8, extra="window=10\nmax_failures=20\n") as f:
        u = users.make()
        f.enroll(u)
        right = code_at(current_step() + 2)
        wrong = wrong_code(SECRET, window=WINDOW)
        # k rounds of 8 wrong codes at once: 8, 16, then 20 (max_failures;
        # a lock-out checks no more codes and counts none).
        for k, expected in ((1, 8), (2, 16), (3, 20)):
            results = f.race(u, wrong)
            assert results.count("PAM_AUTH_ERR") == 8, results
            _, status = f.status(u, host=k)
            assert status["failures"] == expected, (k, status)
        assert status.get("locked_until"), status
        # Locked out on every host, even for the right code.
        for i in range(8):
            r = f.login(i, u, right)
            assert r.result == "PAM_AUTH_ERR", r
            assert "Too many wrong codes" in " ".join(r.errors), r
        _, after = f.status(u, host=7)
        assert after["failures"] == 20


def test_lockout_lifted_everywhere_when_it_runs_out(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=4, extra="window=10\nmax_failures=3\nlockout=3\n") as f:
        u = users.make()
        f.enroll(u)
        results = f.race(u, wrong_code(SECRET, window=WINDOW))
        assert results.count("PAM_AUTH_ERR") == 4
        _, status = f.status(u)
        assert status["failures"] == 3 and status.get("locked_until"), status
        r = f.login(1, u, code_at(current_step() + 1))
        assert r.result == "PAM_AUTH_ERR"
        time.sleep(4)
        r = f.login(3, u, code_at(current_step() + 2))
        assert r.result == "PAM_SUCCESS", str(r) + f.hosts[3].logtext()


def test_trust_revoke_and_remove_on_one_host_hold_on_all_at_once(fleet, users):
    u = users.make()
    fleet.enroll(u, host=2)
    # A trusted device recorded at a login on host 4 ...
    step = current_step() + 1
    r = fleet.run(3, u, answers=[code_at(step), "yes"], rhost="192.0.2.7")
    assert r.result == "PAM_SUCCESS", r
    r = fleet.run(6, u, answers=[], rhost="192.0.2.7")
    assert r.result == "PAM_SUCCESS", r  # ... is honoured on host 7
    # ... and revoked on host 1: host 7 asks for a code again at once.
    r = fleet.hosts[0].cli("trust", "revoke", "--all", "--user", u.name)
    assert r.returncode == 0, r.stderr
    r = fleet.run(6, u, answers=[], rhost="192.0.2.7")
    assert r.result != "PAM_SUCCESS", r
    # disable (remove everything) on host 2: host 8 finds no record.
    r = fleet.hosts[1].cli("disable", "--user", u.name)
    assert r.returncode == 0, r.stderr
    assert fleet.pg.record(u.name) == ""
    r = fleet.login(7, u, code_at(step + 1))
    assert r.result == "PAM_AUTH_ERR", r


def test_the_user_enrols_with_the_cli_through_twostepd(fleet, users):
    u = users.make()
    r = fleet.hosts[4].cli("enroll", "--secret", SECRET, "--code", code_at(current_step()), "--json", user=u.name)
    assert r.returncode == 0, r.stderr + fleet.hosts[4].logtext()
    r = fleet.hosts[2].cli("status", "--json", user=u.name)
    assert r.returncode == 0 and json.loads(r.stdout)["enabled"] is True, r.stdout
    assert json.loads(r.stdout)["path"] == f"postgresql: {u.name}"
    assert SECRET not in r.stdout
    # Another user cannot act on it through any host.
    other = users.make()
    r = fleet.hosts[1].cli("status", "--user", u.name, user=other.name)
    assert r.returncode == 2


# The database unreachable, killed, or slow

def test_postgres_stopped_denies_within_the_timeout(fleet, users):
    u = users.make()
    fleet.enroll(u)
    fleet.pg.stop()
    try:
        for i in (0, 5):
            t0 = time.monotonic()
            r = fleet.login(i, u, code_at(current_step() + 1))
            elapsed = time.monotonic() - t0
            assert r.result == "PAM_AUTH_ERR", r
            assert "unavailable" in " ".join(r.errors).lower(), r
            assert elapsed < 2 + 1, elapsed
    finally:
        fleet.pg.start()
    r = fleet.login(2, u, code_at(current_step() + 1))
    assert r.result == "PAM_SUCCESS", str(r) + fleet.hosts[2].logtext()


def test_postgres_killed_mid_transaction_loses_nothing_acknowledged(fleet, users):
    people = [users.make() for _ in range(8)]
    for i, p in enumerate(people):
        fleet.enroll(p, host=i)
    step = current_step() + 1
    accepted = []

    def logins(i):
        got = []
        for n in range(6):
            s = step + n
            r = fleet.login(i, people[i], code_at(s), timeout=30)
            if r.result == "PAM_SUCCESS":
                got.append(s)
        return got

    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(logins, i) for i in range(8)]
        time.sleep(0.3)
        fleet.pg.kill9()
        time.sleep(1)
        fleet.pg.start()
        for i, f in enumerate(futures):
            accepted.append(f.result())
    # Every acknowledged login's step is spent in the database: replaying it
    # on another host is refused.
    for i, steps in enumerate(accepted):
        for s in steps:
            r = fleet.login((i + 1) % 8, people[i], code_at(s))
            assert r.result == "PAM_AUTH_ERR", (i, s, r)


def test_a_row_lock_held_elsewhere_denies_within_the_timeout(fleet, users):
    u = users.make()
    fleet.enroll(u)
    # Host 2 has its connection to the database already (a running fleet does).
    assert fleet.login(1, u, code_at(current_step() + 1)).result == "PAM_SUCCESS"
    holder = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", f"{PGBIN}/psql", "-X", "-h", fleet.pg.dir,
         "-p", str(fleet.pg.port), "-U", "postgres", "-d", "twostep", "-c",
         f"BEGIN; SELECT 1 FROM twostep_records WHERE username = '{u.name}' FOR UPDATE; SELECT pg_sleep(8); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    try:
        time.sleep(1)
        t0 = time.monotonic()
        r = fleet.login(1, u, code_at(current_step() + 2))
        elapsed = time.monotonic() - t0
        assert r.result == "PAM_AUTH_ERR", r
        assert elapsed < 2 + 1, elapsed
    finally:
        holder.wait(timeout=30)
    r = fleet.login(1, u, code_at(current_step() + 3))
    assert r.result == "PAM_SUCCESS", r


# Bad input from the database side

def test_a_corrupt_record_in_the_database_denies_with_a_clear_log_line(fleet, users):
    u = users.make()
    fleet.enroll(u)
    fleet.pg.sql(f"UPDATE twostep_records SET record = 'totp id=x secret=!!!' WHERE username = '{u.name}'")
    r = fleet.run(0, u, answers=[code_at(current_step())], wrapper=True)
    assert r.result == "PAM_AUTH_ERR", r
    assert any("corrupt" in line for line in r.syslog), r.syslog


def test_a_schema_of_another_version_denies_and_migrate_refuses_a_newer_one(fleet, users):
    u = users.make()
    fleet.enroll(u)
    fleet.pg.sql("UPDATE twostep_schema SET version = 4")
    r = fleet.run(0, u, answers=[code_at(current_step() + 1)], wrapper=True)
    assert r.result == "PAM_AUTH_ERR", r
    assert any("schema is version 4" in line for line in r.syslog), r.syslog
    m = fleet.hosts[0].migrate()
    assert m.returncode == 3 and "newer" in m.stderr, m.stderr
    fleet.pg.sql("UPDATE twostep_schema SET version = 3")
    m = fleet.hosts[0].migrate()
    assert m.returncode == 0 and "nothing to do" in m.stdout, m.stdout + m.stderr
    r = fleet.login(0, u, code_at(current_step() + 1))
    assert r.result == "PAM_SUCCESS", r


def test_migrate_takes_a_version_1_schema_to_3_keeping_the_records(fleet, users):
    """Schema 2 adds twostep_sends (SPEC §5), schema 3 the procedure
    twostep_store (SPEC §13, one round trip): a database of an earlier
    twostepd is refused until migrated, and keeps its records."""
    u = users.make()
    fleet.enroll(u)
    fleet.pg.sql("DROP TABLE twostep_sends")
    fleet.pg.sql("DROP PROCEDURE twostep_store")
    fleet.pg.sql("UPDATE twostep_schema SET version = 1")
    r = fleet.run(0, u, answers=[code_at(current_step() + 1)], wrapper=True)
    assert r.result == "PAM_AUTH_ERR", r
    assert any("run 'twostepd --migrate'" in line for line in r.syslog), r.syslog
    m = fleet.hosts[0].migrate()
    assert m.returncode == 0 and "now at version 3 (was 1)" in m.stdout, m.stdout + m.stderr
    assert fleet.pg.sql("SELECT count(*) FROM twostep_sends").strip() == "0"
    r = fleet.login(0, u, code_at(current_step() + 1))
    assert r.result == "PAM_SUCCESS", r


def test_no_schema_denies_naming_migrate(daemon_bin, pam, users):
    from fleet import Host, Postgres  # a database nobody migrated
    import tempfile
    top = tempfile.mkdtemp(prefix="twostep-fleet-", dir="/var/tmp")
    os.chmod(top, 0o755)
    pg = Postgres(top)
    h = Host(1, top, daemon_bin, pg, pam).start()
    try:
        u = users.make()
        r = h.pam.run(h.service, u, answers=["123456"], wrapper=True)
        assert r.result == "PAM_AUTH_ERR", r
        assert any("twostepd --migrate" in line for line in r.syslog), r.syslog
    finally:
        h.stop()
        pg.cleanup()


def test_the_module_links_no_database_client(module):
    out = subprocess.run(["ldd", module], capture_output=True, text=True).stdout
    assert "libpq" not in out and "libssl" not in out and "libcrypto" not in out, out
    names = subprocess.run(["nm", "-D", "--defined-only", module], capture_output=True, text=True).stdout
    assert "Postgres" not in names and "NIO" not in names


def test_the_password_never_appears_in_ps_or_the_log(fleet, users):
    from fleet import DB_PASSWORD
    u = users.make()
    fleet.enroll(u)
    ps = subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True).stdout
    assert DB_PASSWORD not in ps
    pid = fleet.hosts[0].proc.pid
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert DB_PASSWORD.encode() not in f.read()
    assert all(DB_PASSWORD not in h.logtext() for h in fleet.hosts)


def test_a_password_file_others_can_read_is_refused(fleet):
    h = fleet.hosts[0]
    h.stop()
    os.chmod(h.password_file, 0o644)
    r = subprocess.run([h.daemon_bin, "--socket-dir", h.sockets, "--config", h.config], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "0600" in r.stderr, r.stderr


def test_migrate_copies_file_records_checks_each_and_is_safe_to_rerun(fleet, users):
    store = os.path.join(fleet.top, "files")
    os.makedirs(store, mode=0o700)
    h = fleet.hosts[0]
    alice, bob, carol = users.make(), users.make(), users.make()
    for u in (alice, bob):
        r = h.cli("enroll", "--user", u.name, "--store", f"{store}/%u", "--secret", SECRET,
                  "--code", code_at(current_step()), "--json")
        assert r.returncode == 0, r.stderr
    with open(os.path.join(store, carol.name), "w") as f:
        f.write("this is not a factor file\n")
    os.chmod(os.path.join(store, carol.name), 0o600)
    r = h.cli("migrate", "--from", f"{store}/%u")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{alice.name}: copied from {store}/{alice.name}" in r.stdout
    assert f"{bob.name}: copied" in r.stdout
    assert f"{carol.name}: not copied" in r.stdout and "corrupt" in r.stdout
    assert "2 copied, 0 already in the store, 1 not copied" in r.stdout
    assert fleet.pg.record(alice.name) == open(os.path.join(store, alice.name)).read().strip()
    assert fleet.pg.record(carol.name) == ""
    # Run again: nothing overwritten, nothing copied twice.
    os.unlink(os.path.join(store, carol.name))
    r = h.cli("migrate", "--from", f"{store}/%u")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 copied, 2 already in the store, 0 not copied" in r.stdout
    # A migrated record logs in on another host; its state then lives in the database only.
    r = fleet.login(5, alice, code_at(current_step() + 1))
    assert r.result == "PAM_SUCCESS", r
    r = h.cli("migrate", "--from", f"{store}/%u")
    assert f"{alice.name}: already in the store (with other content: left as it is)" in r.stdout


def test_migrate_needs_root_and_a_fleet_store(fleet, users):
    u = users.make()
    r = fleet.hosts[0].cli("migrate", "--from", "/var/lib/twostep/%u", user=u.name)
    assert r.returncode == 2 and "root" in r.stderr
    r = fleet.hosts[0].cli("migrate", "--from", "twostepd")
    assert r.returncode == 2


# offline=cached

def totp_step(record, factor="totp-1"):
    for line in record.splitlines():
        if line.startswith("totp ") and f"id={factor}" in line.split():
            for field in line.split():
                if field.startswith("last-step="):
                    return int(field.split("=", 1)[1])
    return None


def failures(record):
    for line in record.splitlines():
        if line.startswith("failures "):
            return int(dict(f.split("=", 1) for f in line.split()[1:])["count"])
    return None


def test_offline_cached_decides_from_the_copy_and_merges_the_journal(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=3, extra="window=10\nmax_failures=1000\noffline=cached\noffline_max_age=3600\n") as f:
        u, stranger = users.make(), users.make()
        codes = f.enroll(u)["backup_codes"]
        f.enroll(stranger)
        step = current_step() + 1
        for host in (0, 1):  # hosts 1 and 2 keep a copy; host 3 never saw u
            r = f.login(host, u, code_at(step))
            assert r.result == "PAM_SUCCESS", r
            step += 1
        f.pg.stop()
        # Host 1: an authenticator code counts, once.
        r = f.login(0, u, code_at(step))
        assert r.result == "PAM_SUCCESS", str(r) + f.hosts[0].logtext()
        assert f.login(0, u, code_at(step)).result == "PAM_AUTH_ERR"
        # Host 2 knows nothing of that: the same step is accepted there too (reported at the merge).
        r = f.login(1, u, code_at(step))
        assert r.result == "PAM_SUCCESS", r
        # Backup codes are refused offline, and so is a user this host has no copy of.
        r = f.login(0, u, codes[0])
        assert r.result == "PAM_AUTH_ERR", r
        r = f.login(2, u, code_at(step + 1))
        assert r.result == "PAM_AUTH_ERR", r
        assert "no copy" in f.hosts[2].logtext() or "unavailable" in " ".join(r.errors).lower()
        # A wrong code offline is journalled.
        w = f.run(0, u, answers=[wrong_code(SECRET, window=WINDOW)], wrapper=True)
        assert w.result == "PAM_AUTH_ERR", w
        journal = os.path.join(f.hosts[0].cache, "journal")
        assert os.path.getsize(journal) > 0
        journalled = open(journal).read()
        assert (os.stat(f.hosts[0].cache).st_mode & 0o777) == 0o700
        f.pg.start()
        # Merged within a few seconds: highest step wins, failures add up.
        deadline = time.time() + 20
        while time.time() < deadline and (os.path.exists(journal)
                                          or os.path.exists(os.path.join(f.hosts[1].cache, "journal"))):
            time.sleep(0.5)
        assert not os.path.exists(journal), f.hosts[0].logtext()
        record = f.pg.record(u.name)
        assert totp_step(record) == step, record
        # The replay on host 1 and the wrong code: two failures, as online.
        assert failures(record) == 2, journalled + "\n".join(w.syslog)
        assert "backup" in record and record.count("backup ") == 10  # the backup code was not spent
        logs = f.hosts[0].logtext() + f.hosts[1].logtext()
        assert "on another host too" in logs, logs
        # Online again: the step used offline is a replay everywhere.
        assert f.login(2, u, code_at(step)).result == "PAM_AUTH_ERR"
        r = f.login(2, u, code_at(step + 1))
        assert r.result == "PAM_SUCCESS", r


def test_offline_cached_refuses_a_copy_older_than_offline_max_age(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=1, extra="window=10\noffline=cached\noffline_max_age=2\n") as f:
        u = users.make()
        f.enroll(u)
        assert f.login(0, u, code_at(current_step() + 1)).result == "PAM_SUCCESS"
        f.pg.stop()
        time.sleep(3)
        t0 = time.monotonic()
        r = f.login(0, u, code_at(current_step() + 2))
        assert r.result == "PAM_AUTH_ERR", r
        assert time.monotonic() - t0 < 3
        assert "offline_max_age" in f.hosts[0].logtext()


def test_report_reads_every_account_from_the_fleet_store(fleet, users):
    u, other = users.make(), users.make()
    fleet.enroll(u, host=3)
    r = fleet.hosts[6].cli("report", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["user"]: row for row in json.loads(r.stdout)["accounts"]}
    assert rows[u.name]["enrolled"] == "yes" and rows[u.name]["store"] == f"twostepd: {u.name}", rows[u.name]
    assert rows[u.name]["backup_codes_left"] == 10
    assert rows[other.name]["enrolled"] == "no", rows[other.name]


# TLS as the URI's sslmode says

def make_certificate(directory, name):
    key, crt = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return key, crt


def test_tls_follows_sslmode(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=1, extra="window=10\n") as f:
        pg, h = f.pg, f.hosts[0]
        u = users.make()
        f.enroll(u)
        key, crt = make_certificate(pg.dir, "server")
        _, other_ca = make_certificate(h.top, "other")
        subprocess.run(["chown", "postgres:postgres", key, crt], check=True)
        os.chmod(key, 0o600)
        pg.sql("ALTER SYSTEM SET ssl = on", db="postgres")
        pg.sql(f"ALTER SYSTEM SET ssl_cert_file = '{crt}'", db="postgres")
        pg.sql(f"ALTER SYSTEM SET ssl_key_file = '{key}'", db="postgres")
        # TCP only with TLS.
        hba = os.path.join(pg.data, "pg_hba.conf")
        with open(hba) as fh:
            text = fh.read().replace("host    all", "hostssl all")
        with open(hba, "w") as fh:
            fh.write(text)
        pg.stop()
        pg.start()

        def configure(query):
            h.stop()
            h.write_config(pg, "window=10\n")
            with open(h.config) as fh:
                conf = fh.read().replace("?sslmode=disable", query)
            with open(h.config, "w") as fh:
                fh.write(conf)
            h.start()

        step = current_step() + 1
        for query, ok in (("?sslmode=require", True), (f"?sslmode=verify-full&sslrootcert={crt}", True),
                          (f"?sslmode=verify-full&sslrootcert={other_ca}", False), ("?sslmode=disable", False)):
            configure(query)
            r = f.login(0, u, code_at(step))
            assert (r.result == "PAM_SUCCESS") == ok, (query, str(r), h.logtext()[-2000:])
            if ok:
                step += 1


def test_the_send_limit_is_the_fleets_and_survives_reenrolment(daemon_bin, pam, users, tmp_path):
    """Issue 19, item 1, in fleet mode: the count is a table of the database
    (twostep_sends), so sends on two hosts add up, and a record written
    anew (re-enrolment) does not start the limit again."""
    channels = tmp_path / "channels"
    channels.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    for kind in ("sms", "voice"):
        shutil.copy(os.path.join(REPO, "channels", "spool"), channels / kind)
        os.chmod(channels / kind, 0o755)
    number = "+966501234534"
    phone = f"phone id=phone-1 number={number} channel=sms label=mobile created=1\n"

    def add_phone(u):
        fleet.pg.sql(f"UPDATE twostep_records SET record = record || '{phone}', version = version + 1 "
                     f"WHERE username = '{u.name}'")

    def spooled(u):
        try:
            return [l for l in open("/var/spool/twostep/outbox").read().splitlines() if l.split(" ")[1] == u.name]
        except FileNotFoundError:
            return []

    with Fleet(daemon_bin, pam, hosts=2, extra=f"channels={channels}\nsend_limit=3\n") as fleet:
        u = users.make()
        fleet.enroll(u)
        add_phone(u)
        for i in range(3):
            r = fleet.run(i % 2, u, answers=["?", "2"])
            assert not any("Too many codes" in e for e in r.errors), r
        assert len(spooled(u)) == 3
        r = fleet.run(1, u, answers=["?", "2"])
        assert any("Too many codes" in e for e in r.errors), r
        # A fresh record on host 2: the count is not in it.
        other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        c = fleet.hosts[1].cli("enroll", "--force", "--user", u.name, "--secret", other,
                               "--code", code_at(current_step(), other), "--json")
        assert c.returncode == 0, c.stderr
        add_phone(u)
        r = fleet.run(0, u, answers=["?", "2"])
        assert any("Too many codes" in e for e in r.errors), r
        assert len(spooled(u)) == 3
        rows = fleet.pg.sql(f"SELECT subject, cardinality(times) FROM twostep_sends ORDER BY subject")
        assert rows.splitlines() == [f"number.{number}|3", f"user.{u.name}|3"], rows


# Issue 19, item 5: the offline copy does not outlive a reset

def copy_of(host, user):
    """The path of `host`'s offline copy of `user`'s record (DIR/HEX(name)), whether or not it exists."""
    return os.path.join(host.cache, user.name.encode().hex())


def test_offline_copy_does_not_outlive_a_reset_and_a_restart(daemon_bin, pam, users):
    with Fleet(daemon_bin, pam, hosts=2, extra="window=10\noffline=cached\noffline_max_age=3600\n") as f:
        here = f.hosts[0]
        u, v = users.make(), users.make()  # u reset on this host, v on the other one
        f.enroll(u)
        f.enroll(v)
        step = current_step() + 1
        for user in (u, v):
            r = f.login(0, user, code_at(step))
            assert r.result == "PAM_SUCCESS", r
            assert os.path.exists(copy_of(here, user))
        r = here.cli("reset", "--user", u.name)
        assert r.returncode == 0, r.stderr
        # A change through this host's io.twostep.Manage reaches its copy at once.
        u_copy_left = os.path.exists(copy_of(here, u))
        r = f.hosts[1].cli("reset", "--user", v.name)
        assert r.returncode == 0, r.stderr
        # twostepd exits when idle: its memory of which copies it wrote is gone.
        here.stop()
        here.start()
        # The database says v has no record: the copy from before the restart goes too.
        r = f.login(0, v, code_at(step + 1))
        assert r.result == "PAM_AUTH_ERR", r
        v_copy_left = os.path.exists(copy_of(here, v))
        f.pg.stop()
        # The stolen phone's codes, during an outage: refused for both.
        for user in (u, v):
            r = f.login(0, user, code_at(step + 2))
            assert r.result == "PAM_AUTH_ERR", f"{user.name}: {r}\n" + here.logtext()
        assert not u_copy_left and not v_copy_left, (u_copy_left, v_copy_left)


# Issue 19, small item (i): the module trusts only a Login socket served by root

def test_the_module_denies_a_login_socket_served_by_another_uid(pam, users):
    """An ordinary user who can write the directory `socket_dir=` names
    listens on io.twostep.Login and answers with a record whose secret
    they know: the module must refuse the answer (SO_PEERCRED is not
    uid 0), deny, and log why."""
    attacker, victim = users.make(), users.make()
    top = tempfile.mkdtemp(prefix="twostep-fake-login-", dir="/var/tmp")
    os.chmod(top, 0o755)
    run = os.path.join(top, "run")
    os.mkdir(run)
    os.chown(run, attacker.uid, attacker.gid)
    path = os.path.join(run, "io.twostep.Login")
    record = factor_text(totp_line(SECRET))
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the fake twostepd, as the attacker
        try:
            os.close(ready_r)
            os.setgroups([])
            os.setgid(attacker.gid)
            os.setuid(attacker.uid)
            server = socket.socket(socket.AF_UNIX)
            server.bind(path)
            server.listen(8)
            os.write(ready_w, b"x")
            server.settimeout(60)
            while True:
                conn, _ = server.accept()
                with conn:
                    data = b""
                    while True:
                        while b"\0" not in data:
                            chunk = conn.recv(65536)
                            if not chunk:
                                break
                            data += chunk
                        if b"\0" not in data:
                            break
                        message, data = data.split(b"\0", 1)
                        method = json.loads(message)["method"].rsplit(".", 1)[-1]
                        reply = {"Fetch": {"record": record, "version": 1, "offline": False},
                                 "Store": {"stored": True}, "Delete": {"deleted": True}}.get(method, {})
                        conn.sendall(json.dumps({"parameters": reply}).encode() + b"\0")
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        pam.service("svc", f"store=twostepd socket_dir={run}")
        r = pam.run("svc", victim, answers=[code_at(current_step())], wrapper=True)
        assert r.result == "PAM_AUTH_ERR", r
        log = "\n".join(r.syslog)
        assert f"runs as uid {attacker.uid}, not uid 0" in log, log
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(ready_r)
        shutil.rmtree(top, ignore_errors=True)


# Issue 19, small item (ii): a database on another host without a checked certificate

def test_a_remote_database_without_verify_full_is_warned_about(daemon_bin, tmp_path):
    os.chmod(tmp_path, 0o755)
    sockets = tmp_path / "run"
    sockets.mkdir()
    password = tmp_path / "db-password"
    password.write_text("x\n")
    os.chmod(password, 0o600)
    config = tmp_path / "twostep.conf"

    def run(database):
        config.write_text(f"store=twostepd\nbackend=postgresql\ndatabase={database}\n"
                          f"database_password_file={password}\ndatabase_timeout=1\nsocket_dir={sockets}\n")
        os.chmod(config, 0o644)
        log = tmp_path / "twostepd.log"
        with open(log, "w") as out:
            d = subprocess.Popen([daemon_bin, "--socket-dir", str(sockets), "--config", str(config),
                                  "--cache-dir", str(tmp_path / "cache")], stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not os.path.exists(sockets / "io.twostep.Login"):
                assert d.poll() is None, log.read_text()
                time.sleep(0.05)
            env = {"TWOSTEP_SOCKET_DIR": str(sockets)}
            report = cli("report", "--json", config=config, env=env, timeout=300)
            assert report.returncode == 0, report.stderr
            text = cli("report", config=config, env=env, timeout=300)
            setup = cli("setup", "--status", config=config, env=env)
            return log.read_text(), json.loads(report.stdout)["database_warning"], text.stdout, setup.stdout
        finally:
            d.terminate()
            d.wait(timeout=30)

    log, warning, text, setup = run("postgresql://twostep@db.invalid:5432/twostep?sslmode=require")
    assert "sslmode=require" in log and "db.invalid" in log, log
    assert warning and "sslmode=require" in warning and "verify-full" in warning, warning
    assert "Warning: database=: the server db.invalid" in text, text
    assert "Warning: database=: the server db.invalid" in setup, setup
    for quiet in ("postgresql://twostep@db.invalid/twostep?sslmode=verify-full",
                  "postgresql://twostep@127.0.0.1/twostep?sslmode=disable",
                  "postgresql://twostep@[::1]/twostep", "postgresql://twostep@localhost/twostep",
                  "postgresql://twostep@/twostep?host=/run/postgresql"):
        log, warning, text, setup = run(quiet)
        assert warning is None and "sslmode" not in log and "Warning" not in text + setup, (quiet, log, warning)
