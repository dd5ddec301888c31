"""Issue 7, class 3: kill -9 at random points of a write.

A writer is started and SIGKILLed after a random delay drawn over its
whole run time (measured first), so kills land before, during and after
the replace:

- the CLI: `twostep codes --user NAME` (root; a new set of backup codes,
  durable write);
- a PAM client: pamdriver with many wrong-code cycles in one process
  (each one a locked read-verify-replace of the failure count).

After every kill the factor file exists, parses, keeps the authenticator
and is the old state or a new one (for the CLI: the old backup codes or a
whole new set; for the PAM client: the failure count went up by the
number of cycles that finished, nothing else changed). Temporary files a
kill leaves behind (`.twostep.*.tmp`) are counted and reported; they must
never be used: the next writer still works and the file never takes a
temp's place by itself.

TWOSTEP_KILLS (default 100 = 50 CLI + 50 PAM; `make stress`: 1000).
"""

import os
import random
import signal
import subprocess
import time

import pytest

from hostile import *  # noqa: F401,F403

KILLS = int(os.environ.get("TWOSTEP_KILLS", "100"))


def without(fields, *keys):
    return {k: v for k, v in fields.items() if k not in keys}


def measure(start, n=3):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        p = start()
        p.communicate(timeout=60)
        times.append(time.monotonic() - t0)
    return sorted(times)[n // 2]


def kill_at_random(start, duration, rng):
    p = start()
    time.sleep(rng.uniform(0, duration * 1.1))
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    return p.returncode == -signal.SIGKILL


def test_kill_cli_codes(users):
    u = enroll(users, backup=10)
    rng = random.Random(int(os.environ.get("TWOSTEP_SEED", "0")) or None)
    start = lambda: subprocess.Popen(cli_argv("codes", "--user", u.name, "--json"),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env={**os.environ, **NO_SWIFT_BACKTRACE})
    duration = measure(start)
    totp = records(u.read_factors(), "totp")[0]
    outcomes = {"old": 0, "new": 0}
    killed = 0
    for i in range(KILLS // 2):
        old = u.read_factors()
        killed += kill_at_random(start, duration, rng)
        assert os.path.isfile(u.factor_path) and not os.path.islink(u.factor_path), f"kill {i}: the file is gone"
        text = u.read_factors()
        assert parses(text), f"kill {i}: a torn file:\n{text}"
        assert records(text, "totp")[0] == totp, f"kill {i}: the authenticator changed"
        if text == old:
            outcomes["old"] += 1
        else:
            new, before = records(text, "backup"), records(old, "backup")
            assert len(new) == 10, f"kill {i}: {len(new)} backup codes"
            assert not {b["hash"] for b in new} & {b["hash"] for b in before}, f"kill {i}: a mix of old and new codes"
            outcomes["new"] += 1
        st = os.stat(u.factor_path)
        assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)
    leftovers = temp_files(u.home)
    # The file is whole and the CLI still works with leftovers present.
    p = cli("status", "--user", u.name, "--json", env=NO_SWIFT_BACKTRACE)
    assert p.returncode == 0, p
    print(f"CLI: {KILLS // 2} runs, {killed} killed; file old {outcomes['old']}, new {outcomes['new']}; "
          f"{len(leftovers)} temp files left behind")


def test_kill_pam_client(pam, users, pamdriver):
    u = enroll(users, backup=2)
    pam.service("svc", "max_failures=1000")
    rng = random.Random(int(os.environ.get("TWOSTEP_SEED", "0")) or None)
    cycles = 40
    start = lambda: spawn(pam, "svc", u, ["000000"], extra=["--cycles", str(cycles), "--quiet",
                                                             "--expect", "PAM_AUTH_ERR"])
    # 000000 must be a wrong code for the whole test.
    if "000000" in {totp_code_pyotp(u.secret, time.time() + 30 * k) for k in range(-2, 40)}:
        pytest.skip("000000 is a valid code of this secret in the next 20 minutes")
    duration = measure(start)
    base = records(u.read_factors(), "totp")[0], records(u.read_factors(), "backup")
    count = int((records(u.read_factors(), "failures") or [{"count": "0"}])[0]["count"])
    killed = partial = 0
    for i in range(KILLS // 2):
        if count > 1000 - 2 * cycles:  # stay below max_failures: start the count again
            u.write_factors("".join(l + "\n" for l in u.read_factors().splitlines() if not l.startswith("failures")))
            count = 0
        killed += kill_at_random(start, duration, rng)
        assert os.path.isfile(u.factor_path), f"kill {i}: the file is gone"
        text = u.read_factors()
        assert parses(text), f"kill {i}: a torn file:\n{text}"
        assert (records(text, "totp")[0], records(text, "backup")) == base, f"kill {i}: factors changed"
        failures = records(text, "failures")
        now = int(failures[0]["count"]) if failures else 0
        assert count <= now <= count + cycles, f"kill {i}: failure count {count} -> {now}"
        partial += 0 < now - count < cycles
        count = now
    leftovers = temp_files(u.home)
    # A login still works.
    pam.service("ok")
    assert pam.run("ok", u, [fresh_code(u.secret, u.read_factors())]).result == "PAM_SUCCESS"
    print(f"PAM: {KILLS // 2} clients, {killed} killed, {partial} mid-run; {len(leftovers)} temp files left behind")
