"""Issue 7, class 7: secrets stay secret.

One full scenario with `debug` on — enrolment, a good code, trusting the
device, a trusted login, wrong codes up to a lock-out, the right code
during it, a backup code, a replayed code, the help answer, an unknown
user, forward_pass with a password, the CLI's verify/codes/status — and
everything it logs is captured:

- syslog: the module runs in a private mount namespace whose /dev/log is
  a datagram socket this test reads (every syslog(3) call of the process:
  pam_syslog, libpam's own messages);
- pam_wrapper's logger (stderr) for the same logins run under pam_wrapper;
- the clients' stdout and stderr (what the user is shown), the CLI's
  stderr, and the CLI's stdout except where it exists to show a secret
  (`enroll --json`, `codes --json`).

None of it may contain the TOTP secret (Base32 either case, hex), any
code given, any backup code (as shown, bare, upper case), a backup
code's salt or hash, or the password.
"""

import base64
import json
import os
import re
import subprocess
import time

import pytest

from hostile import *  # noqa: F401,F403

def test_nothing_secret_is_logged(pam, users, syslog):
    pw = "Sekr3t-Passw0rd-" + os.urandom(4).hex()
    u = users.make(password=pw)
    secret = new_secret()
    seen = []          # every text that is not meant to show a secret
    given = []         # every code typed
    backup_codes = []

    # Enrolment (root, --user); --json's stdout shows the codes by design.
    code = totp_code(secret)
    p = cli("enroll", "--user", u.name, "--secret", secret, "--code", code,
            "--no-qr", "--json", "--backup-codes", "5", env=NO_SWIFT_BACKTRACE)
    assert p.returncode == 0, p
    given.append(code)
    seen.append(p.stderr)
    backup_codes += json.loads(p.stdout)["backup_codes"]

    opts = "debug max_failures=3 lockout=2 window=4"
    pam.service("svc", opts)
    pam.stack("fp", f"auth requisite {pam.module} {opts} forward_pass\nauth required pam_permit.so\n")

    def login(answers, user=u, service="svc", rhost=None, both=True):
        """Once with /dev/log captured, and once under pam_wrapper."""
        given.extend(answers)
        args = driver_args(pam, service, user, answers, extra=["--rhost", rhost] if rhost else [])
        p = subprocess.run(syslog.wrap(args), capture_output=True, text=True, env=driver_env(), timeout=60)
        seen.extend([p.stdout, p.stderr])
        results = [l.split(": ", 1)[1] for l in p.stdout.splitlines() if l.startswith("RESULT: ")]
        if both:
            args = driver_args(pam, service, user, answers, wrapper=True,
                               extra=["--rhost", rhost] if rhost else [])
            r = subprocess.run(args, capture_output=True, text=True, env=driver_env(pam, wrapper=True), timeout=60)
            assert "SYSLOG" in r.stderr, r.stderr  # pam_wrapper's logger shows the module's messages
            seen.extend([r.stdout, r.stderr])
        return results[0] if results else p.stdout + p.stderr

    def fresh():
        return fresh_code(secret, u.read_factors(), window=4)

    # A good code, then trust the device; the trusted login asks nothing.
    assert login([fresh(), "y"], rhost="192.0.2.7", both=False) == "PAM_SUCCESS"
    assert login([], rhost="192.0.2.7") == "PAM_SUCCESS"
    # Wrong codes up to the lock-out; the right code during it.
    wrong = [wrong_code(secret) for _ in range(3)]
    for w in wrong:
        assert login([w], both=False) == "PAM_AUTH_ERR"
    assert login([totp_code(secret)]) in ("PAM_AUTH_ERR", "PAM_MAXTRIES")
    time.sleep(2.5)
    # A backup code (shown form and upper case bare form), a replay, help.
    assert login([backup_codes[0]], both=False) == "PAM_SUCCESS"
    assert login([backup_codes[1].replace("-", "").upper()], both=False) == "PAM_SUCCESS"
    c = fresh()
    assert login([c], both=False) == "PAM_SUCCESS"
    assert login([c]) == "PAM_AUTH_ERR"
    assert login(["?", wrong_code(secret)]) == "PAM_AUTH_ERR"
    time.sleep(2.5)  # the wrong codes above may have locked again
    # An unknown user; forward_pass with the password.
    assert login(["123456"], user="tsmod-nosuchuser") == "PAM_AUTH_ERR"
    assert login([f"{pw} {fresh()}"], service="fp", both=False) == "PAM_SUCCESS"
    assert login([f"{pw} {wrong_code(secret)}"], service="fp") == "PAM_AUTH_ERR"
    time.sleep(2.5)

    # The CLI as the user: verify, codes (its --json stdout shows the new
    # codes by design), status.
    given.append(backup_codes[3])
    p = cli("verify", "--code", backup_codes[3], user=u, env=NO_SWIFT_BACKTRACE)
    assert p.returncode == 0, p
    seen.extend([p.stdout, p.stderr])
    p = cli("codes", "--code", backup_codes[2], "--json", user=u, env=NO_SWIFT_BACKTRACE)
    assert p.returncode == 0, p
    given.append(backup_codes[2])
    seen.append(p.stderr)
    new_codes = json.loads(p.stdout)["backup_codes"]
    p = cli("status", user=u, env=NO_SWIFT_BACKTRACE)
    seen.extend([p.stdout, p.stderr])
    p = cli("status", "--json", user=u, env=NO_SWIFT_BACKTRACE)
    seen.extend([p.stdout, p.stderr])
    p = cli("verify", "--code", wrong_code(secret), user=u, env=NO_SWIFT_BACKTRACE)
    seen.extend([p.stdout, p.stderr])

    logged = syslog.drain()
    seen.extend(logged)
    everything = "\n".join(seen)

    # The capture works: the module's messages are there.
    assert any("code accepted" in m for m in logged), logged
    assert any("wrong code" in m for m in logged), logged
    assert any("locked out" in m for m in logged), logged

    # The secrets.
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    text = u.read_factors()
    stored = [v for b in records(text, "backup") for v in (b["salt"], b["hash"])]
    forbidden = [secret, secret.lower(), raw.hex(), raw.hex().upper(), pw] + stored
    for b in backup_codes + new_codes:
        bare = b.replace("-", "")
        forbidden += [b, bare, b.upper(), bare.upper()]
    for s in forbidden:
        assert s not in everything, f"a secret appears in the logs or output: {s!r}"
    # Secret fragments: any 16 Base32 characters of it.
    for i in range(0, len(secret) - 16):
        assert secret[i:i + 16] not in everything, "a piece of the secret appears"
    # Codes typed (6 digits, not part of a longer number such as a timestamp).
    for c in {g for g in given if re.fullmatch(r"\d{6,8}", g)}:
        hits = [l for l in everything.splitlines() if re.search(rf"(?<!\d){c}(?!\d)", l)]
        assert hits == [], f"code {c} appears: {hits[:3]}"
