"""Times in a user's own factor file (issue 19, item 8), through the real
module in real libpam (pamdriver): a time at the end of Int64 is refused as
a malformed line, never an overflow trap inside the login process (sshd);
a time in the future (a clock stepped back since it was written, or a user
writing one) counts as now, so it locks nobody out for longer than the
policy says: a send limit or a lock-out ends `send_window`/`lockout`
seconds from now at the latest.
"""

import re
import time

import pytest

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)
from test_channels import NUMBER, channels, phone_line, spool_cmd, spooled  # noqa: F401  (fixtures)

UNAVAILABLE = "Two-step verification is unavailable for this account. Contact your administrator."
INT64_MAX = 9223372036854775807
LATEST = 1 << 40   # the latest time a factor file may hold


def assert_no_crash(r):
    """pamdriver ran to its end: no signal (SIGILL from a Swift trap), a result printed."""
    assert r.rc >= 0, f"the login process died of signal {-r.rc}: {r}"
    assert r.results, r


def minutes_in(messages, pattern):
    for m in messages:
        found = re.search(pattern, m)
        if found:
            return int(found.group(1))
    return None


@pytest.mark.parametrize("line", [
    f"sends times={INT64_MAX},{INT64_MAX},{INT64_MAX}",
    f"failures count=5 locked-until={INT64_MAX}",
    f"failures count=4 last={INT64_MAX}",
    f"trust id=trust-1 service=svc rhost=192.0.2.7 created={INT64_MAX - 5} expires={INT64_MAX}",
], ids=["sends", "locked-until", "last", "trust"])
def test_int64_max_times_are_refused_not_a_crash(pam, channels, users, line):
    """The report's attack: Int64.max in the user's own file. The module
    denies as for any malformed file, and the login process lives on."""
    u = users.make()
    u.backup = new_backup_code()
    u.write_factors(factor_text(phone_line(), backup_line(u.backup), line))
    pam.confirm_phone(u, NUMBER)  # root confirmed it (a home store)
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", u, ["?", "2", u.backup], rhost="192.0.2.7")
    assert_no_crash(r)
    assert r.result == "PAM_AUTH_ERR" and UNAVAILABLE in r.errors, r
    assert spooled(u) == [], "nothing is sent from a malformed file"


def test_future_sends_count_as_sent_now(pam, channels, users):
    """Three sends dated at the latest time a file may hold: the send limit
    (3 per 15 minutes) holds for 15 minutes from now, not until then."""
    u = users.make()
    u.backup = new_backup_code()
    u.write_factors(factor_text(phone_line(), backup_line(u.backup), f"sends times={LATEST},{LATEST},{LATEST}"))
    pam.confirm_phone(u, NUMBER)  # root confirmed it (a home store)
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", u, ["?", "2", u.backup])
    assert_no_crash(r)
    assert r.result == "PAM_SUCCESS", r
    minutes = minutes_in(r.errors, r"Too many codes were sent recently: no code was sent. Try again in (\d+) minute")
    assert minutes is not None and 1 <= minutes <= 15, r
    assert spooled(u) == []


def test_one_future_send_still_lets_a_code_go(pam, channels, users):
    """One send dated in the future counts as one send now: the next goes."""
    u = users.make()
    u.write_factors(factor_text(phone_line(), f"sends times={LATEST}"))
    pam.confirm_phone(u, NUMBER)  # root confirmed it (a home store)
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", u, ["?", "1", spool_cmd(u)])
    assert_no_crash(r)
    assert r.result == "PAM_SUCCESS", r
    now = int(time.time())
    times = [int(t) for t in records(u.read_factors(), "sends")[0]["times"].split(",")]
    assert len(times) == 2 and all(now - 60 <= t <= now + 1 for t in times), times


def test_far_future_lockout_is_capped_and_runs_out(pam, users):
    """A lock-out stored as ending at the latest time a file may hold lasts
    `lockout` seconds from now: the message says so, the file is rewritten
    capped, and once that has passed a code is accepted."""
    u = users.make()
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret), f"failures count=5 locked-until={LATEST}"))
    pam.service("svc", "lockout=2")
    r = pam.run("svc", u, [totp_code(u.secret)])
    assert_no_crash(r)
    assert r.result == "PAM_AUTH_ERR" and r.prompts == [], r
    assert minutes_in(r.errors, r"Too many wrong codes. Try again in (\d+) minute") == 1, r
    until = locked_until(u.read_factors())
    assert time.time() - 5 < until <= time.time() + 2, "the lock-out is stored capped"
    time.sleep(max(0, until + 1.1 - time.time()))
    r = pam.run("svc", u, [fresh_code(u.secret, u.read_factors())])
    assert r.result == "PAM_SUCCESS", r


def test_future_last_step_is_no_lockout(pam, users):
    """An authenticator whose last accepted step lies far in the future:
    codes in the window count as replays only until the steps move past
    it (at most window+1 steps), then a code is accepted."""
    u = users.make()
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret, last_step=LATEST // 30)))
    pam.service("svc", "window=0")
    r = pam.run("svc", u, [totp_code(u.secret)])
    assert_no_crash(r)
    assert r.result == "PAM_AUTH_ERR", r
    time.sleep(30 - time.time() % 30 + 0.5)
    r = pam.run("svc", u, [totp_code(u.secret)])
    assert r.result == "PAM_SUCCESS", r
