"""Issue 7, class 6: brute force through libpam.

- GUESSES (default 10,000; env TWOSTEP_GUESSES) distinct wrong codes —
  6-digit codes and backup-code-shaped ones — through pam_authenticate
  with the lock-out effectively off (lockout=0): every guess is checked,
  none is accepted, and the account still works afterwards.
- The same guesser against the real lock-out (max_failures=3 lockout=2):
  only 3 guesses are checked per lock-out period whatever the rate; the
  lock-out is logged; the right code is refused during it and accepted
  after it.
- An unknown user gets the same prompts, messages and fail delay as an
  enrolled user who types a wrong code (pamdriver transcripts compared).

Guesses go through libpam in this process (hostile.InProcessPAM, ctypes):
one handle, one pam_authenticate per guess, fail delays requested but
never slept (like pamdriver --no-delay).
"""

import os
import random
import time

import pytest

from hostile import *  # noqa: F401,F403

GUESSES = int(os.environ.get("TWOSTEP_GUESSES", "10000"))


def valid_codes(secret, seconds_ahead):
    """Every code valid from 2 steps ago to `seconds_ahead` from now (+1 step)."""
    now = int(time.time())
    return {totp_code_pyotp(secret, now + 30 * k) for k in range(-2, seconds_ahead // 30 + 3)}


def guesses(secret, count, seconds_ahead=600):
    """`count` distinct wrong answers: 80% 6-digit codes, 20% backup-code shaped."""
    rng = random.Random(7)
    avoid = valid_codes(secret, seconds_ahead)
    digits = [f"{n:06d}" for n in rng.sample(range(10**6), count)]
    digits = [d for d in digits if d not in avoid]
    out = digits[: count * 4 // 5]
    while len(out) < count:
        out.append("".join(rng.choice(BACKUP_ALPHABET) for _ in range(10)))
    return out


def test_ten_thousand_wrong_codes_none_accepted(pam, users):
    u = enroll(users, backup=3)
    pam.service("svc", "max_failures=1000 lockout=0")
    answers = guesses(u.secret, GUESSES)
    assert len(set(answers)) == GUESSES
    h = InProcessPAM(pam.dir, "svc", u)
    results = {}
    t0 = time.monotonic()
    try:
        for a in answers:
            rc, transcript = h.authenticate([a])
            results[rc] = results.get(rc, 0) + 1
            assert transcript == [("PROMPT_ECHO_OFF", PROMPT), ("ERROR", WRONG)] or \
                   transcript[-1][1].startswith(WRONG), (a, rc, transcript)
    finally:
        h.close()
    elapsed = time.monotonic() - t0
    assert results == {"PAM_AUTH_ERR": GUESSES}, results
    assert h.delays == GUESSES, "every wrong code must request a fail delay"
    text = u.read_factors()
    assert parses(text), text
    assert len(records(text, "backup")) == 3, "a guess spent a backup code"
    # The account still works: the right code and a backup code.
    pam.service("ok")
    assert pam.run("ok", u, [fresh_code(u.secret, text)]).result == "PAM_SUCCESS"
    assert pam.run("ok", u, [u.codes[1]]).result == "PAM_SUCCESS"
    print(f"{GUESSES} wrong codes checked in {elapsed:.1f}s ({GUESSES / elapsed:.0f}/s), 0 accepted")


def locked_for(user):
    """Seconds the lock-out recorded in the user's file still runs (≤ 0: none)."""
    failures = records(user.read_factors(), "failures")
    until = int(failures[0].get("locked-until", "0")) if failures else 0
    return until - time.time()


def test_lockout_limits_guessing_rate(pam, users):
    """Hammering guesses against max_failures=3 lockout=2: at most 3 are
    checked per 2-second lock-out; the others are refused unchecked
    (no prompt), the right code among them."""
    u = enroll(users, backup=1)
    pam.service("svc", "max_failures=3 lockout=2")
    answers = guesses(u.secret, 20000)
    h = InProcessPAM(pam.dir, "svc", u)
    checked = locked = 0
    right_refused = 0
    t0 = time.monotonic()
    try:
        i = 0
        while time.monotonic() - t0 < 5.0 and i < len(answers):
            # Every 50th attempt is the right code (a fresh one) or a backup
            # code, sent only while the file says a lock-out has at least
            # half a second to run (right after one expires the module
            # rightly checks codes again, and a right one would get in).
            right = i % 50 == 25 and locked_for(u) > 0.5
            if right:
                a = u.codes[0] if i % 100 == 25 else totp_code(u.secret)
            else:
                a = answers[i]
            rc, transcript = h.authenticate([a])
            prompted = ("PROMPT_ECHO_OFF", PROMPT) in transcript
            if right:
                # The right code may only come through when it was checked,
                # i.e. not during a lock-out, which is always running here
                # after the first three guesses.
                if rc == "PAM_SUCCESS":
                    pytest.fail(f"the right code was accepted while guessing ({transcript})")
                right_refused += 1
            assert rc in ("PAM_AUTH_ERR", "PAM_MAXTRIES"), (a, rc, transcript)
            if prompted:
                checked += 1
            else:
                locked += 1
                assert any("Too many wrong codes" in t for k, t in transcript if k == "ERROR"), transcript
            i += 1
    finally:
        h.close()
    elapsed = time.monotonic() - t0
    periods = elapsed / 2 + 1
    assert locked > 0 and checked >= 3, (checked, locked)
    assert checked <= 3 * periods + 3, f"{checked} guesses checked in {elapsed:.1f}s with max_failures=3 lockout=2"
    assert right_refused > 0
    text = u.read_factors()
    assert parses(text) and len(records(text, "backup")) == 1, text
    print(f"{i} attempts in {elapsed:.1f}s: {checked} checked, {locked} refused unchecked (locked out)")

    # After the lock-out: the lock-out was logged; the right code is accepted.
    until = int(records(text, "failures")[0].get("locked-until", "0"))
    r = pam.run("svc", u, [totp_code(u.secret)], wrapper=True)
    if time.time() < until:
        assert r.result in ("PAM_AUTH_ERR", "PAM_MAXTRIES") and r.prompts == [], r
        assert any("locked out until" in m for m in r.syslog), r.syslog
    time.sleep(max(0, until + 1.1 - time.time()))
    r = pam.run("svc", u, [fresh_code(u.secret, u.read_factors())], wrapper=True)
    assert r.result == "PAM_SUCCESS", r
    assert any("code accepted" in m for m in r.syslog), r.syslog


def test_lockout_engaged_and_logged(pam, users):
    u = enroll(users)
    pam.service("svc", "max_failures=3 lockout=2")
    bad = guesses(u.secret, 3)
    logs = []
    for a in bad:
        r = pam.run("svc", u, [a], wrapper=True)
        assert r.result == "PAM_AUTH_ERR", r
        logs += r.syslog
    assert any("wrong code (3 in a row, locked out until" in m for m in logs), logs
    before = Snapshot(u.factor_path)
    r = pam.run("svc", u, [fresh_code(u.secret, u.read_factors())], wrapper=True)
    assert r.result in ("PAM_AUTH_ERR", "PAM_MAXTRIES") and r.prompts == [], r
    assert any("locked out until" in m and "no code checked" in m for m in r.syslog), r.syslog
    assert before.changes(before.again()) == [], "a locked-out attempt wrote the file"
    until = int(records(u.read_factors(), "failures")[0]["locked-until"])
    time.sleep(max(0, until + 1.1 - time.time()))
    r = pam.run("svc", u, [fresh_code(u.secret, u.read_factors())])
    assert r.result == "PAM_SUCCESS", r


@pytest.mark.parametrize("answers", [["WRONG"], ["?", "WRONG"], ["", "WRONG"], ["WRONG-BACKUP"], ["", "", ""]],
                         ids=["wrong", "help-then-wrong", "empty-then-wrong", "wrong-backup", "only-empty"])
def test_unknown_user_looks_like_enrolled_user(pam, users, answers):
    u = enroll(users)
    with_backup = enroll(users, backup=3)
    pam.service("svc", "max_failures=1000")

    def fill(a):
        return {"WRONG": "000000" if "000000" not in valid_codes(u.secret, 60) else "999999",
                "WRONG-BACKUP": "abcd-efgh-jk"}.get(a, a)

    transcripts = {}
    for who in [u, with_backup, "tsmod-nosuchuser", "root-but-not-" + u.name]:
        r = pam.run("svc", who, [fill(a) for a in answers])
        transcripts[getattr(who, "name", who)] = r.transcript()
    distinct = {tuple(t) for t in transcripts.values()}
    assert len(distinct) == 1, transcripts
