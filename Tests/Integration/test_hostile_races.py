"""Issue 7, class 2: races. Many processes at once on one user's file.

- 64 pamdriver processes log in at once with the same backup code: exactly
  one succeeds, and the code is gone from the file.
- 64 at once with the same TOTP code: exactly one succeeds (replay
  refusal holds under concurrency); last-step is that code's step.
- The same backup code given at once to 16 logins and 16 `twostep verify`
  runs (as the user): exactly one of the 32 is accepted (the CLI and the
  module take the same lock).
- `twostep codes --user` (root) and `twostep codes --code` (the user)
  running while wrong-code logins and `status` readers hammer the file:
  after every round the file parses, the authenticator is intact, every
  wrong code was counted (nothing lost), and the backup codes are exactly
  one complete set that some `codes` run printed.

TWOSTEP_RACE_ROUNDS (default 3; `make stress`: 20) sets the rounds of the
last test.
"""

import hashlib
import hmac
import json
import os

from hostile import *  # noqa: F401,F403

ROUNDS = int(os.environ.get("TWOSTEP_RACE_ROUNDS", "3"))
N = 64


def test_same_backup_code_64_at_once(pam, users):
    u = enroll(users, backup=3)
    pam.service("svc", "max_failures=1000")
    runs = run_parallel(pam, "svc", u, [[u.codes[1]]] * N)
    results = [r.result for r in runs]
    assert results.count("PAM_SUCCESS") == 1, results
    assert results.count("PAM_AUTH_ERR") == N - 1, results
    text = u.read_factors()
    assert parses(text), text
    backups = records(text, "backup")
    assert [b["id"] for b in backups] == ["backup-1", "backup-3"], "exactly the used code is gone"
    assert int(records(text, "failures")[0]["count"]) == N - 1, "every refused attempt was counted"
    assert temp_files(u.home) == []


def test_same_totp_code_64_at_once(pam, users):
    u = enroll(users)
    pam.service("svc", "max_failures=1000")
    avoid_step_edge(margin=8)
    step = current_step()
    code = totp_code(u.secret, at=step * 30)
    runs = run_parallel(pam, "svc", u, [[code]] * N)
    results = [r.result for r in runs]
    assert results.count("PAM_SUCCESS") == 1, results
    text = u.read_factors()
    assert parses(text), text
    assert int(records(text, "totp")[0]["last-step"]) == step
    assert temp_files(u.home) == []


def test_same_backup_code_logins_and_cli_at_once(pam, users):
    u = enroll(users, backup=2)
    pam.service("svc", "max_failures=1000")
    code = u.codes[0]
    procs = []
    for i in range(16):
        procs.append(("pam", spawn(pam, "svc", u, [code])))
        args = cli_argv("verify", "--code", code, user=u)
        env = cli_env(u, NO_SWIFT_BACKTRACE)
        procs.append(("cli", subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, env=env)))
    accepted = []
    for kind, p in procs:
        if kind == "pam":
            r = finish(p)
            if r.result == "PAM_SUCCESS":
                accepted.append(("pam", r.stdout))
            else:
                assert r.result == "PAM_AUTH_ERR", r
        else:
            out, err = p.communicate(timeout=60)
            assert p.returncode in (0, 1), (p.returncode, out, err)
            if p.returncode == 0:
                accepted.append(("cli", out))
    assert len(accepted) == 1, accepted
    backups = records(u.read_factors(), "backup")
    assert [b["id"] for b in backups] == ["backup-2"]


def code_set_matches(text, codes):
    """True when the file's backup codes are exactly `codes` (by their hashes)."""
    stored = records(text, "backup")
    if len(stored) != len(codes):
        return False
    clean = [c.replace("-", "").lower() for c in codes]
    for b in stored:
        salt = bytes.fromhex(b["salt"])
        if not any(hmac.new(salt, c.encode(), hashlib.sha256).hexdigest() == b["hash"] for c in clean):
            return False
    return True


def test_codes_and_logins_concurrently(pam, users):
    u = enroll(users, backup=10)
    pam.service("svc", "max_failures=1000")
    totp_before = records(u.read_factors(), "totp")[0]
    wrong_total = 0
    for round in range(ROUNDS):
        avoid_step_edge(margin=10)
        procs = []
        # 24 wrong-code logins, 4 root `codes --user`, 1 user `codes --code`
        # (a fresh TOTP code), 4 `status` readers, interleaved.
        try:
            user_code = fresh_code(u.secret, u.read_factors())
        except AssertionError:  # this step and the next are used: no user run this round
            user_code = None
        for i in range(24):
            procs.append(("login", spawn(pam, "svc", u, ["000000" if i % 2 else "abcd-efgh-jk"])))
            if i % 6 == 0:
                procs.append(("codes", subprocess.Popen(cli_argv("codes", "--user", u.name, "--json"),
                                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE, text=True)))
                procs.append(("status", subprocess.Popen(cli_argv("status", "--user", u.name, "--json"),
                                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                         stderr=subprocess.PIPE, text=True)))
            if i == 12 and user_code:
                args = cli_argv("codes", "--code", user_code, "--json", user=u)
                procs.append(("codes", subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE, text=True,
                                                        env=cli_env(u))))
        sets = []
        for kind, p in procs:
            if kind == "login":
                r = finish(p)
                assert r.result == "PAM_AUTH_ERR", r
                wrong_total += 1
            else:
                out, err = p.communicate(timeout=60)
                assert p.returncode == 0, (kind, p.returncode, out, err)
                if kind == "codes":
                    sets.append(json.loads(out)["backup_codes"])
                else:
                    json.loads(out)  # a reader always sees a whole file
        text = u.read_factors()
        assert parses(text), text
        totp = records(text, "totp")[0]
        assert {k: v for k, v in totp.items() if k != "last-step"} == \
               {k: v for k, v in totp_before.items() if k != "last-step"}, "the authenticator changed"
        assert sum(code_set_matches(text, s) for s in sets) == 1, "the backup codes are not one whole set"
        failures = records(text, "failures")
        # The user's `codes --code` was a good code: it may reset the count.
        count = int(failures[0]["count"]) if failures else 0
        assert count <= wrong_total
        if count != wrong_total:
            wrong_total = count  # reset by the accepted code; from here on every one must count
        assert temp_files(u.home) == []
    st = os.stat(u.factor_path)
    assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)
