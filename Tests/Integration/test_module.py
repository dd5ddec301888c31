"""pam_twostep.so loaded into the real libpam by pamdriver (--confdir, or
pam_wrapper where the test reads what the module logs). SPEC §2–§3.

Every test runs with pamdriver --no-delay (the module's pam_fail_delay is
reported as a FAIL_DELAY line instead of being slept) except
test_fail_delay_applied_and_file_stays_users.
"""

import os
import shutil
import stat
import subprocess
import time

import pytest

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)

WRONG = "Wrong code."
PROMPT = "Verification code: "
DIDNT = "Didn't receive the code?"
UNAVAILABLE = "Two-step verification is unavailable for this account. Contact your administrator."


@pytest.fixture
def enrolled(users):
    """A user with one TOTP authenticator and no backup codes."""
    u = users.make()
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret)))
    return u


def code_for(u):
    return fresh_code(u.secret, u.read_factors())


def assert_denied_unchecked(r, message=UNAVAILABLE):
    """Denied before any prompt, with a generic message."""
    assert r.result == "PAM_AUTH_ERR", r
    assert r.prompts == [], r
    assert message in r.errors, r


# --------------------------------------------------------------------------
# Codes


def test_correct_code_from_oathtool(pam, enrolled):
    pam.service("svc")
    code = code_for(enrolled)
    r = pam.run("svc", enrolled, [code])
    assert r.result == "PAM_SUCCESS", r
    assert r.prompts == [PROMPT], r
    assert r.texts("PROMPT_ECHO_OFF") == [PROMPT], "the code prompt must not echo"
    assert "FAIL_DELAY" not in [k for k, _ in r.lines], r
    # The accepted step is recorded (no replay), the file stays the user's.
    totp = records(enrolled.read_factors(), "totp")[0]
    assert int(totp["last-step"]) >= current_step() - 1
    st = os.stat(enrolled.factor_path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (enrolled.uid, 0o600)


def test_codes_from_pyotp_sha256_8_digits(pam, users):
    """An independent generator, non-default parameters."""
    u = users.make()
    secret = new_secret(32)
    u.write_factors(factor_text(totp_line(secret, algorithm="SHA256", digits=8, period=60)))
    pam.service("svc")
    import pyotp, hashlib
    avoid_step_edge(period=60)
    code = pyotp.TOTP(secret, digits=8, interval=60, digest=hashlib.sha256).now()
    assert code == totp_code(secret, period=60, digits=8, algorithm="SHA256")
    r = pam.run("svc", u, [code])
    assert r.result == "PAM_SUCCESS", r


def test_wrong_code(pam, enrolled):
    pam.service("svc")
    r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)])
    assert r.result == "PAM_AUTH_ERR", r
    assert r.prompts == [PROMPT]
    assert r.errors == [WRONG], r
    assert len(r.texts("FAIL_DELAY")) == 1, "a denial must request pam_fail_delay"
    assert failure_count(enrolled.read_factors()) == 1


def test_reused_handle_follows_a_changed_user(pam, users):
    """sshd calls pam_authenticate again on one handle for every code a
    connection tries. The module looks the account up once per handle, but
    a changed PAM_USER (a stack module may set it) is looked up anew: every
    wrong code is counted in its own user's file."""
    a, b = users.make(), users.make()
    for u in (a, b):
        u.secret = new_secret()
        u.write_factors(factor_text(totp_line(u.secret)))
    code = wrong_code(a.secret)
    while code in {totp_code_pyotp(b.secret, time.time() + 30 * k) for k in range(-3, 4)}:
        code = wrong_code(a.secret)
    pam.service("svc")
    r = pam.run("svc", a, [code], expect="PAM_AUTH_ERR",
                extra=["--reuse", "--cycles", "4", "--next-user", b.name, "--next-user", a.name, "--next-user", b.name])
    assert r.rc == 0 and r.results == ["PAM_AUTH_ERR"] * 4, r
    assert r.texts("USER") == [b.name, a.name, b.name], r
    assert failure_count(a.read_factors()) == 2, a.read_factors()
    assert failure_count(b.read_factors()) == 2, b.read_factors()


def test_reused_handle_reads_the_password_database_once(pam, enrolled, tmp_path):
    """Three codes on one handle: /etc/passwd is read for the first only."""
    pam.service("svc")
    trace = tmp_path / "trace"
    code = wrong_code(enrolled.secret)
    args = pam.run("svc", enrolled, [code], expect="PAM_AUTH_ERR").args + ["--reuse", "--cycles", "3"]
    p = subprocess.run(["strace", "-f", "-e", "trace=openat", "-o", str(trace)] + args, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("RESULT: PAM_AUTH_ERR") == 3, p.stdout
    opens = [l for l in trace.read_text().splitlines() if '"/etc/passwd"' in l]
    assert len(opens) == 1, opens
    assert failure_count(enrolled.read_factors()) == 4, "one run before strace's, three in it"


def test_malformed_answers_are_wrong_codes(pam, enrolled):
    pam.service("svc", "max_failures=100")
    code = code_for(enrolled)
    for answer in [code + "0", code[:-1], "12345a", "x" * 1000, code + "\t"]:
        r = pam.run("svc", enrolled, [answer])
        assert (r.result, r.errors) == ("PAM_AUTH_ERR", [WRONG]), r


def test_code_with_spaces_accepted(pam, enrolled):
    pam.service("svc")
    code = code_for(enrolled)
    r = pam.run("svc", enrolled, [f" {code[:3]} {code[3:]} "])
    assert r.result == "PAM_SUCCESS", r


def test_replayed_code_refused(pam, enrolled):
    pam.service("svc")
    code = code_for(enrolled)
    assert pam.run("svc", enrolled, [code]).result == "PAM_SUCCESS"
    r = pam.run("svc", enrolled, [code])
    assert r.result == "PAM_AUTH_ERR", r
    assert r.errors == [WRONG], r
    # A code of an earlier step than the one used is a replay too.
    r = pam.run("svc", enrolled, [totp_code(enrolled.secret, at=time.time() - 30)])
    assert r.result == "PAM_AUTH_ERR", r


def test_backup_code_once(pam, users):
    u = users.make()
    secret = new_secret()
    codes = [new_backup_code() for _ in range(5)]
    u.write_factors(factor_text(totp_line(secret), *[backup_line(c, id=f"backup-{i}") for i, c in enumerate(codes)]))
    pam.service("svc")
    # Case and dashes do not matter.
    shown = "-".join([codes[2][:4], codes[2][4:8], codes[2][8:]]).upper()
    r = pam.run("svc", u, [shown])
    assert r.result == "PAM_SUCCESS", r
    assert any("4 backup codes left" in i for i in r.infos), r
    assert len(records(u.read_factors(), "backup")) == 4
    r = pam.run("svc", u, [codes[2]])
    assert (r.result, r.errors) == ("PAM_AUTH_ERR", [WRONG]), r
    r = pam.run("svc", u, [codes[0]])
    assert r.result == "PAM_SUCCESS", r
    assert any("3 backup codes left" in i for i in r.infos), r


def test_last_backup_code(pam, users):
    u = users.make()
    code = new_backup_code()
    u.write_factors(factor_text(totp_line(new_secret()), backup_line(code)))
    pam.service("svc")
    r = pam.run("svc", u, [code])
    assert r.result == "PAM_SUCCESS", r
    assert any("last backup code" in i for i in r.infos), r


@pytest.mark.parametrize("help_answer", ["?", ""])
def test_didnt_receive_then_code(pam, enrolled, help_answer):
    pam.service("svc")
    code = code_for(enrolled)
    r = pam.run("svc", enrolled, [help_answer, code])
    assert r.result == "PAM_SUCCESS", r
    kinds = [k for k, _ in r.lines]
    assert kinds[:4] == ["PROMPT_ECHO_OFF", "INFO", "PROMPT_ECHO_OFF", "RESULT"], r
    assert r.prompts == [PROMPT, PROMPT]
    assert r.infos[0].startswith(DIDNT), r


def test_didnt_receive_lists_backup_codes(pam, users):
    u = users.make()
    u.write_factors(factor_text(totp_line(new_secret()), backup_line(new_backup_code())))
    pam.service("svc")
    r = pam.run("svc", u, ["?"])
    assert r.infos and r.infos[0].startswith(DIDNT) and "backup code" in r.infos[0], r
    assert r.result == "PAM_AUTH_ERR"


def test_no_answer_denies(pam, enrolled):
    """A client that cannot answer (conversation error) is denied."""
    pam.service("svc")
    r = pam.run("svc", enrolled, [])
    assert r.result != "PAM_SUCCESS", r
    assert "out of answers" in r.texts("CONV")


# --------------------------------------------------------------------------
# Lock-out


def test_lockout(pam, enrolled):
    pam.service("svc", "max_failures=3 lockout=2")
    bad = wrong_code(enrolled.secret)
    code = code_for(enrolled)
    for i in range(3):
        r = pam.run("svc", enrolled, [bad])
        assert r.result == "PAM_AUTH_ERR" and r.prompts == [PROMPT], r
    assert any("Too many wrong codes" in e for e in r.errors), "the 3rd wrong code starts the lock-out"
    failures = records(enrolled.read_factors(), "failures")[0]
    until = int(failures["locked-until"])
    assert time.time() - 5 < until <= time.time() + 2
    before = file_state(enrolled.factor_path)

    r = pam.run("svc", enrolled, [code])
    assert r.result in ("PAM_AUTH_ERR", "PAM_MAXTRIES"), r
    assert r.prompts == [], "no code is asked during a lock-out"
    assert any("Too many wrong codes" in e for e in r.errors), r
    assert file_state(enrolled.factor_path)[:3] == before[:3], "a locked-out attempt writes nothing"

    time.sleep(max(0, until + 1.1 - time.time()))
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r
    assert failure_count(enrolled.read_factors()) == 0, "a good code clears the failures"


def test_good_code_resets_failure_count(pam, enrolled):
    pam.service("svc", "max_failures=3 lockout=300")
    bad = wrong_code(enrolled.secret)
    for _ in range(2):
        assert pam.run("svc", enrolled, [bad]).result == "PAM_AUTH_ERR"
    assert pam.run("svc", enrolled, [code_for(enrolled)]).result == "PAM_SUCCESS"
    for _ in range(2):
        assert pam.run("svc", enrolled, [bad]).result == "PAM_AUTH_ERR"
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r


# --------------------------------------------------------------------------
# Not enrolled, nullok, exempt hosts


def test_nullok_without_file_is_ignore(pam, users):
    u = users.make()
    pam.probe("probe", "nullok")
    r = pam.run("probe", u)
    assert r.verdict == "PAM_IGNORE", r
    assert r.prompts == []
    # A single-module stack: libpam turns the lone PAM_IGNORE into a failure.
    pam.service("single", "nullok")
    assert pam.run("single", u).result != "PAM_SUCCESS"
    # sufficient + pam_deny: PAM_IGNORE does not short-circuit the stack.
    pam.stack("suff", f"auth sufficient {pam.module} nullok\nauth required pam_deny.so\n")
    assert pam.run("suff", u).result == "PAM_AUTH_ERR"


def test_probe_stack_tells_success_from_ignore(pam, enrolled):
    """The probe itself: an enrolled user's good code is PAM_SUCCESS, not IGNORE."""
    pam.probe("probe", "nullok")
    r = pam.run("probe", enrolled, [code_for(enrolled)])
    assert r.verdict == "PAM_SUCCESS", r
    r = pam.run("probe", enrolled, [wrong_code(enrolled.secret)])
    assert r.verdict == "PAM_AUTH_ERR", r


def test_no_file_without_nullok_denied_with_enroll_message(pam, users):
    u = users.make()
    pam.probe("probe")
    r = pam.run("probe", u)
    assert r.verdict == "PAM_AUTH_ERR", r
    assert r.prompts == []
    assert any("twostep enroll" in e for e in r.errors), r


def test_nullok_missing_home_denied(pam, users):
    u = users.make()
    shutil.rmtree(u.home)
    pam.probe("probe", "nullok")
    r = pam.run("probe", u)
    assert r.verdict == "PAM_AUTH_ERR", r
    assert_denied_unchecked(r)


def test_nullok_store_directory_missing_denied(pam, users):
    u = users.make()
    pam.probe("probe", "nullok store=/nonexistent-twostep-dir/%u")
    assert pam.run("probe", u).verdict == "PAM_AUTH_ERR"


def test_nullok_unreadable_home_denied(pam, users):
    """EACCES is not ENOENT: a home the user cannot read denies (as root,
    the module could read it: this also shows it uses the user's identity)."""
    u = users.make()
    os.chmod(u.home, 0o000)
    pam.probe("probe", "nullok")
    assert pam.run("probe", u).verdict == "PAM_AUTH_ERR"


def test_nullok_home_owned_by_another_user_denied(pam, users):
    u, other = users.make(), users.make()
    os.chown(u.home, other.uid, other.gid)
    pam.probe("probe", "nullok")
    assert pam.run("probe", u).verdict == "PAM_AUTH_ERR"


def test_exempt_rhost(pam, enrolled):
    pam.probe("probe", "exempt_rhost=192.0.2.0/24,2001:db8::/32")
    for host in ["192.0.2.9", "2001:db8::1", "::ffff:192.0.2.200"]:
        r = pam.run("probe", enrolled, rhost=host)
        assert r.verdict == "PAM_IGNORE", (host, str(r))
        assert r.prompts == []
    for host in ["198.51.100.1", "192.0.3.1", "2001:db9::1", "host.example"]:
        r = pam.run("probe", enrolled, [wrong_code(enrolled.secret)], rhost=host)
        assert r.prompts == [PROMPT], (host, str(r))
        assert r.verdict == "PAM_AUTH_ERR"
    r = pam.run("probe", enrolled, [])  # a local login is not exempt
    assert r.prompts == [PROMPT] and r.verdict != "PAM_IGNORE", r


# --------------------------------------------------------------------------
# Options


@pytest.mark.parametrize("options", [
    "bogus", "window=abc", "window=11", "window=", "window", "max_failures=0", "lockout=-1",
    "trust_days=x", "trust_by=ip", "exempt_rhost=300.1.1.1/8", "exempt_rhost=10.0.0.0/33",
    "store=relative/%u", "store=/var/lib/%x", "nullok=yes", "channels=relative", "nullok nullok",
    "window=1 window=2",
])
def test_bad_option_fails_closed(pam, enrolled, options):
    pam.probe("probe", options)
    r = pam.run("probe", enrolled, [code_for(enrolled)], rhost="192.0.2.1")
    assert r.verdict == "PAM_SERVICE_ERR", r
    assert r.prompts == [], r


def test_unknown_option_is_logged(pam, enrolled):
    pam.service("svc", "nullok frobnicate=1")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert r.result == "PAM_SERVICE_ERR", r
    assert any("frobnicate" in m for m in r.syslog), r.syslog


def test_malformed_option_is_logged(pam, enrolled):
    pam.service("svc", "window=abc")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert r.result == "PAM_SERVICE_ERR", r
    assert any("window" in m for m in r.syslog), r.syslog


def test_prompt_option_with_brackets(pam, enrolled):
    pam.service("svc", "[prompt=Code please: ]")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.prompts == ["Code please: "], r
    assert r.result == "PAM_SUCCESS"


def test_window(pam, users):
    u = users.make()
    secret = new_secret()
    pam.service("w0", "window=0")
    pam.service("w1", "window=1")
    avoid_step_edge(margin=4)
    previous = totp_code(secret, at=time.time() - 30)
    assert previous == totp_code_pyotp(secret, time.time() - 30)
    following = totp_code(secret, at=time.time() + 30)
    two_back = totp_code(secret, at=time.time() - 60)
    u.write_factors(factor_text(totp_line(secret)))
    assert pam.run("w0", u, [previous]).result == "PAM_AUTH_ERR"
    assert pam.run("w0", u, [following]).result == "PAM_AUTH_ERR"
    assert pam.run("w1", u, [two_back]).result == "PAM_AUTH_ERR"
    assert pam.run("w1", u, [previous]).result == "PAM_SUCCESS"
    assert pam.run("w0", u, [totp_code(secret)]).result == "PAM_SUCCESS"
    assert pam.run("w1", u, [following]).result == "PAM_SUCCESS"


# --------------------------------------------------------------------------
# The factor file: safety


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_group_or_world_accessible_file_denied(pam, enrolled, mode):
    os.chmod(enrolled.factor_path, mode)
    before = file_state(enrolled.factor_path)
    pam.service("svc", "nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert_denied_unchecked(r)
    assert file_state(enrolled.factor_path) == before


def test_symlinked_file_denied_and_target_untouched(pam, enrolled):
    target = os.path.join(enrolled.home, "real-factors")
    os.rename(enrolled.factor_path, target)
    os.symlink(target, enrolled.factor_path)
    os.lchown(enrolled.factor_path, enrolled.uid, enrolled.gid)
    before = file_state(target)
    pam.service("svc", "nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert_denied_unchecked(r)
    assert file_state(target) == before
    assert os.path.islink(enrolled.factor_path)


def test_dangling_symlink_denied_even_with_nullok(pam, enrolled):
    os.unlink(enrolled.factor_path)
    os.symlink("/nonexistent-twostep-target", enrolled.factor_path)
    pam.probe("probe", "nullok")
    r = pam.run("probe", enrolled)
    assert r.verdict == "PAM_AUTH_ERR", r
    assert not os.path.exists("/nonexistent-twostep-target")


def test_file_owned_by_another_user_denied(pam, users, enrolled):
    other = users.make()
    os.chown(enrolled.factor_path, other.uid, other.gid)
    before = file_state(enrolled.factor_path)
    pam.service("svc", "nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert_denied_unchecked(r)
    assert file_state(enrolled.factor_path) == before


def test_root_owned_file_in_users_home_denied(pam, enrolled):
    os.chown(enrolled.factor_path, 0, 0)
    pam.service("svc")
    assert_denied_unchecked(pam.run("svc", enrolled, [code_for(enrolled)]))


def test_hard_linked_file_denied(pam, enrolled):
    os.link(enrolled.factor_path, os.path.join(enrolled.home, "second-name"))
    pam.service("svc")
    assert_denied_unchecked(pam.run("svc", enrolled, [code_for(enrolled)]))


def test_directory_instead_of_file_denied(pam, users):
    u = users.make()
    os.mkdir(u.factor_path, 0o700)
    os.chown(u.factor_path, u.uid, u.gid)
    pam.probe("probe", "nullok")
    assert pam.run("probe", u).verdict == "PAM_AUTH_ERR"


def test_fifo_does_not_hang(pam, users):
    u = users.make()
    os.mkfifo(u.factor_path, 0o600)
    os.chown(u.factor_path, u.uid, u.gid)
    pam.probe("probe", "nullok")
    r = pam.run("probe", u, timeout=10)
    assert r.verdict == "PAM_AUTH_ERR", r


def test_group_writable_home_denied(pam, enrolled):
    os.chmod(enrolled.home, 0o770)
    pam.service("svc")
    assert_denied_unchecked(pam.run("svc", enrolled, [code_for(enrolled)]))


@pytest.mark.parametrize("content", [
    b"twostep 2\n",
    b"",
    b"totp id=totp-1\n",
    b"twostep 1\ngarbage line\n",
    b"twostep 1\ntotp id=totp-1 algorithm=MD5 digits=6 period=30 secret=JBSWY3DPEHPK3PXPJBSWY3DP label=x created=1\n",
    b"twostep 1\nfailures count=1\nfailures count=2\n",
    b"twostep 1\ntotp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=JBSWY3DPEHPK3PXPJBSWY3DP label=x created=1 \n",
    b"twostep 1\n\xff\n",
], ids=["version2", "empty", "no-version", "garbage", "bad-algorithm", "two-failures", "trailing-space", "not-utf8"])
def test_corrupt_file_denied_and_not_rewritten(pam, enrolled, content):
    code = code_for(enrolled)
    enrolled.write_factors(content)
    os.utime(enrolled.factor_path, ns=(1_000_000_000, 1_000_000_000))
    before = file_state(enrolled.factor_path)
    pam.service("svc", "nullok")
    r = pam.run("svc", enrolled, [code] * 3)
    assert_denied_unchecked(r)
    assert file_state(enrolled.factor_path) == before
    assert [n for n in os.listdir(enrolled.home) if n.startswith(".twostep.")] == []


@pytest.mark.parametrize("skip", [0, 1], ids=["unlocked-read", "locked-update"])
def test_file_replaced_while_opened(pam, enrolled, race_shim, skip):
    """Another login (or the CLI) replaces the file (rename) between the
    module's open() and fstat(). That is the normal atomic update, not an
    attack: the module must use the new file, not refuse the login.
    skip=0 hits the first open (the read before prompting), skip=1 the
    open of the locked read-verify-update."""
    text = enrolled.read_factors()
    replacement = os.path.join(enrolled.home, ".twostep-replacement")
    enrolled.write_factors(text + trust_line(service="other", rhost="198.51.100.9") + "\n", path=replacement)
    pam.service("svc", "max_failures=100")
    r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)],
                environ={"LD_PRELOAD": race_shim, "RACE_TARGET": enrolled.factor_path,
                         "RACE_REPLACEMENT": replacement, "RACE_SKIP": str(skip)})
    assert "race: replaced" in r.stderr, r  # the race did happen
    assert r.errors == [WRONG], r
    assert r.prompts == [PROMPT], r
    final = enrolled.read_factors()
    assert records(final, "trust"), "the update must start from the file that is there now"
    assert failure_count(final) == 1, final


def test_file_without_factors_denied(pam, users):
    u = users.make()
    u.write_factors(factor_text(trust_line(service="svc", rhost="192.0.2.7")))
    pam.service("svc", "nullok")
    assert_denied_unchecked(pam.run("svc", u, [], rhost="192.0.2.7"))


# --------------------------------------------------------------------------
# No user enumeration


@pytest.mark.parametrize("with_backup_codes", [False, True])
def test_unknown_user_looks_like_wrong_code(pam, enrolled, with_backup_codes):
    if with_backup_codes:
        enrolled.write_factors(factor_text(totp_line(enrolled.secret), backup_line(new_backup_code())))
    pam.service("svc")
    bad = wrong_code(enrolled.secret)
    for answers in ([bad], ["?", bad], ["", "?", bad]):
        known = pam.run("svc", enrolled, answers)
        unknown = pam.run("svc", "tsmod-nosuchuser", answers)
        assert known.result == unknown.result == "PAM_AUTH_ERR", (known, unknown)
        assert known.transcript() == unknown.transcript(), (str(known), str(unknown))
        assert WRONG in unknown.errors


# --------------------------------------------------------------------------
# Trusted devices


TRUST_Q = "Don't ask for codes on this device for 30 days? [y/N] "


def trust_login(pam, u, service, rhost, env=(), answer="y"):
    r = pam.run(service, u, [code_for(u), answer], rhost=rhost, env=env)
    assert r.result == "PAM_SUCCESS", r
    return r


def test_trust_same_device_skips_code(pam, enrolled):
    pam.service("svc")
    pam.service("svc2")
    r = trust_login(pam, enrolled, "svc", "192.0.2.7")
    assert r.lines[1] == ("PROMPT_ECHO_ON", TRUST_Q), r
    (rec,) = records(enrolled.read_factors(), "trust")
    assert (rec["service"], rec["rhost"]) == ("svc", "192.0.2.7") and "key" not in rec
    assert 30 * 86400 - 60 < int(rec["expires"]) - int(rec["created"]) <= 30 * 86400

    r = pam.run("svc", enrolled, [], rhost="192.0.2.7")
    assert (r.result, r.prompts) == ("PAM_SUCCESS", []), r
    # Another host, another service, a local login: asked.
    for service, rhost in [("svc", "192.0.2.8"), ("svc2", "192.0.2.7"), ("svc", None)]:
        r = pam.run(service, enrolled, [], rhost=rhost)
        assert r.prompts == [PROMPT] and r.result != "PAM_SUCCESS", (service, rhost, str(r))


def test_trust_answer_no_or_unanswered(pam, enrolled):
    pam.service("svc")
    trust_login(pam, enrolled, "svc", "192.0.2.7", answer="n")
    r = pam.run("svc", enrolled, [code_for(enrolled)], rhost="192.0.2.7")  # cannot answer the 2nd prompt
    assert r.result == "PAM_SUCCESS", r
    assert r.prompts == [PROMPT, TRUST_Q]
    assert records(enrolled.read_factors(), "trust") == []


def test_trust_days_0_no_question(pam, enrolled):
    pam.service("svc", "trust_days=0")
    r = pam.run("svc", enrolled, [code_for(enrolled), "y"], rhost="192.0.2.7")
    assert r.result == "PAM_SUCCESS" and r.prompts == [PROMPT], r
    # and an existing record is not honoured
    enrolled.write_factors(enrolled.read_factors() + trust_line(service="svc", rhost="192.0.2.7") + "\n")
    r = pam.run("svc", enrolled, [], rhost="192.0.2.7")
    assert r.prompts == [PROMPT], r


def test_trust_days_in_question(pam, enrolled):
    pam.service("svc", "trust_days=7")
    r = trust_login(pam, enrolled, "svc", "192.0.2.7")
    assert r.prompts[1] == "Don't ask for codes on this device for 7 days? [y/N] "
    (rec,) = records(enrolled.read_factors(), "trust")
    assert int(rec["expires"]) - int(rec["created"]) == 7 * 86400


def test_revoked_trust_prompts_again(pam, enrolled):
    pam.service("svc")
    trust_login(pam, enrolled, "svc", "192.0.2.7")
    assert pam.run("svc", enrolled, [], rhost="192.0.2.7").prompts == []
    text = enrolled.read_factors()
    enrolled.write_factors("".join(l + "\n" for l in text.splitlines() if not l.startswith("trust ")))
    r = pam.run("svc", enrolled, [], rhost="192.0.2.7")
    assert r.prompts == [PROMPT] and r.result != "PAM_SUCCESS", r


@pytest.mark.parametrize("created_days_ago,expires_in_days,honoured", [
    (10, 3650, True),     # control: a record made 10 days ago is honoured
    (40, 3650, False),    # made 40 days ago: beyond trust_days=30 whatever expires says
    (29.9, 3650, True),
    (30.1, 3650, False),
    (1, -0.01, False),    # expired
    (-1, 30, False),      # made in the future
])
def test_trust_record_age_capped(pam, enrolled, created_days_ago, expires_in_days, honoured):
    now = int(time.time())
    created = now - int(created_days_ago * 86400)
    expires = now + int(expires_in_days * 86400)
    if expires < created:
        created = expires - 86400
    enrolled.write_factors(enrolled.read_factors()
                           + trust_line(service="svc", rhost="192.0.2.7", created=created, expires=expires) + "\n")
    pam.service("svc", "trust_days=30")
    r = pam.run("svc", enrolled, [], rhost="192.0.2.7")
    if honoured:
        assert (r.result, r.prompts) == ("PAM_SUCCESS", []), r
    else:
        assert r.prompts == [PROMPT] and r.result != "PAM_SUCCESS", r


def test_trust_bound_to_ssh_key(pam, enrolled, tmp_path):
    _, pub_a, fp_a = ssh_keypair(str(tmp_path), "a")
    _, pub_b, _ = ssh_keypair(str(tmp_path), "b")
    pam.service("svc", "trust_by=key")
    trust_login(pam, enrolled, "svc", "192.0.2.7", env=[auth_info(pub_a)])
    (rec,) = records(enrolled.read_factors(), "trust")
    assert rec["key"] == fp_a and "rhost" not in rec, rec
    # Same key from anywhere: trusted. Other key, no key: asked.
    for rhost in ["192.0.2.7", "198.51.100.3"]:
        r = pam.run("svc", enrolled, [], rhost=rhost, env=[auth_info(pub_a)])
        assert (r.result, r.prompts) == ("PAM_SUCCESS", []), r
    for env in ([auth_info(pub_b)], [], ["SSH_AUTH_INFO_0="]):
        r = pam.run("svc", enrolled, [], rhost="192.0.2.7", env=env)
        assert r.prompts == [PROMPT] and r.result != "PAM_SUCCESS", (env, str(r))


def test_trust_default_binds_key_and_host(pam, enrolled, tmp_path):
    _, pub_a, fp_a = ssh_keypair(str(tmp_path), "a")
    pam.service("svc")
    trust_login(pam, enrolled, "svc", "192.0.2.7", env=[auth_info(pub_a)])
    (rec,) = records(enrolled.read_factors(), "trust")
    assert (rec["key"], rec["rhost"]) == (fp_a, "192.0.2.7")
    assert pam.run("svc", enrolled, [], rhost="192.0.2.7", env=[auth_info(pub_a)]).prompts == []
    assert pam.run("svc", enrolled, [], rhost="192.0.2.8", env=[auth_info(pub_a)]).prompts == [PROMPT]
    assert pam.run("svc", enrolled, [], rhost="192.0.2.7").prompts == [PROMPT]


# --------------------------------------------------------------------------
# forward_pass


def test_forward_pass(pam, users):
    pw = "Pass word-7"  # a space in the password too
    u = users.make(password=pw)
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret)))
    pam.stack("fp", f"auth requisite {pam.module} forward_pass\n"
                    f"auth required pam_unix.so use_first_pass nodelay\n")
    fresh = lambda: fresh_code(secret, u.read_factors())
    r = pam.run("fp", u, [f"{pw} {wrong_code(secret)}"])
    assert r.result == "PAM_AUTH_ERR" and r.errors == [WRONG], r
    r = pam.run("fp", u, [f"{pw} {fresh()}"])
    assert r.result == "PAM_SUCCESS", r
    assert len(r.prompts) == 1 and "code" in r.prompts[0].lower(), r
    r = pam.run("fp", u, [f"not-the-password {fresh()}"])
    assert r.result == "PAM_AUTH_ERR", r
    r = pam.run("fp", u, [pw])  # no code at all
    assert r.result == "PAM_AUTH_ERR", r


# --------------------------------------------------------------------------
# Fail delay, identities, stores


def test_fail_delay_applied_and_file_stays_users(pam, enrolled):
    pam.service("svc")
    r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)], no_delay=False)
    assert r.result == "PAM_AUTH_ERR", r
    assert r.elapsed >= 1.0, f"a wrong code took only {r.elapsed:.2f}s: no fail delay"
    st = os.stat(enrolled.factor_path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (enrolled.uid, enrolled.gid, 0o600)
    assert failure_count(enrolled.read_factors()) == 1
    assert [n for n in os.listdir(enrolled.home) if n.startswith(".twostep.")] == []


def test_users_file_is_touched_as_the_user(pam, enrolled):
    """A file the user cannot read (as root could) is refused: the module
    does not use root's identity on a user's file."""
    os.chmod(enrolled.factor_path, 0o000)
    pam.service("svc")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert_denied_unchecked(r)


def test_admin_store_owned_by_root(pam, users):
    base = "/var/lib/twostep-test"
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base, mode=0o700)
    try:
        u = users.make()
        secret = new_secret()
        path = os.path.join(base, u.name)
        u.write_factors(factor_text(totp_line(secret)), path=path, owner=0)
        pam.service("svc", f"store={base}/%u")
        r = pam.run("svc", u, [fresh_code(secret, open(path).read())])
        assert r.result == "PAM_SUCCESS", r
        st = os.stat(path)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
        assert "last-step=" in open(path).read()
        # The same file owned by the user in a root-owned directory: refused.
        os.chown(path, u.uid, u.gid)
        assert_denied_unchecked(pam.run("svc", u, [fresh_code(secret, open(path).read())]))
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------
# Syslog (pam_wrapper sends pam_syslog messages to stderr)


def test_denial_and_success_logged_without_secrets(pam, users):
    u = users.make()
    secret = new_secret()
    backup = new_backup_code()
    u.write_factors(factor_text(totp_line(secret), backup_line(backup)))
    pam.service("svc")
    bad = wrong_code(secret)
    r = pam.run("svc", u, [bad], rhost="192.0.2.7", wrapper=True)
    assert r.result == "PAM_AUTH_ERR", r
    denial = [m for m in r.syslog if u.name in m and "wrong code" in m]
    assert denial, r.syslog
    good = fresh_code(secret, u.read_factors())
    r2 = pam.run("svc", u, [good, "n"], rhost="192.0.2.7", wrapper=True)
    assert r2.result == "PAM_SUCCESS", r2
    assert any("accepted" in m for m in r2.syslog), r2.syslog
    r3 = pam.run("svc", u, [backup], rhost="192.0.2.7", wrapper=True)
    assert r3.result == "PAM_SUCCESS", r3
    text = "\n".join(r.syslog + r2.syslog + r3.syslog)
    for s in [bad, good, secret, secret.lower(), backup]:
        assert s not in text, f"{s!r} logged"


def test_overlong_answer_is_a_wrong_code(pam, enrolled):
    """An answer longer than the module's buffer is refused as a wrong code
    and counts towards the lock-out (it is not 'no answer')."""
    pam.service("svc")
    r = pam.run("svc", enrolled, ["7" * 5000])
    assert r.result == "PAM_AUTH_ERR", r
    assert r.errors == [WRONG], r
    assert failure_count(enrolled.read_factors()) == 1


def test_nullok_unknown_user_is_answered_like_an_unenrolled_one(pam, users):
    """With nullok, an unknown user gets what a user without a file gets
    (PAM_IGNORE, no prompt), so the reply does not tell which accounts exist."""
    u = users.make()
    pam.probe("probe", "nullok")
    known = pam.run("probe", u)
    unknown = pam.run("probe", "tsmod-nosuchuser")
    assert known.verdict == unknown.verdict == "PAM_IGNORE", (known, unknown)
    assert known.prompts == unknown.prompts == []
