"""Terminal escapes from a user's own file (issue 19, item 6): what root's
`twostep status --user U`, `twostep trust list --user U` and `twostep
report` print of a record never carries a raw control or bidi-override
character (escape sequences that retitle the window or clear the screen,
U+202E that reverses what follows); the CLI and twostepd refuse such labels
on input; and a record the old rule let in (an Arabic label ending in a
right-to-left mark, U+200F) still parses and logs in through the module.
"""

import json
import os
from urllib.parse import quote

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)
from test_cli import SECRET, SECRET2, totp
from test_daemon_manage import daemon, user, varlink_call  # noqa: F401  (fixtures; daemon_bin is conftest's)

ESC_TITLE = "\x1b]0;you have been owned\x07"
ESC_CLEAR = "\x1b[2J\x1b[H"
RLO = "\u202e"
RLM = "\u200f"
C1_CSI = "\x9b31m"
# Every byte sequence that must not reach the terminal raw.
RAW = [b"\x1b", b"\x07", RLO.encode(), "\u2066".encode(), b"\xc2\x9b"]


def enc(text):
    """A factor-file value: percent-encoded bytes."""
    return quote(text, safe="")


def hostile_file(secret):
    return factor_text(
        totp_line(secret, label=enc("phone" + ESC_TITLE + RLO + "gpj.exe")),
        f"phone id=phone-1 number=+966501234534 channel=sms label={enc('mobile' + ESC_CLEAR + C1_CSI)} created=1",
        trust_line(service=enc("sshd" + ESC_CLEAR), rhost=enc("host" + RLO + "\u2066x"), key=enc("SHA256:" + ESC_TITLE)),
    )


def assert_no_raw(out, what):
    for raw in RAW:
        assert raw not in out, f"{what}: raw {raw!r} reached the terminal:\n{out!r}"


def test_status_and_trust_list_escape_what_the_record_holds(users):
    u = users.make()
    u.write_factors(hostile_file(new_secret()))
    for args in (["status", "--user", u.name], ["trust", "list", "--user", u.name]):
        r = cli(*args, text=False)
        assert r.returncode == 0, r
        assert_no_raw(r.stdout + r.stderr, " ".join(args))
        assert b"\\u{1B}" in r.stdout and b"\\u{202E}" in r.stdout, r.stdout
    r = cli("status", "--user", u.name, text=False)
    assert b"phone\\u{1B}]0;you have been owned\\u{7}\\u{202E}gpj.exe" in r.stdout, r.stdout
    assert b"mobile\\u{1B}[2J\\u{1B}[H\\u{9B}31m" in r.stdout, r.stdout


def test_json_output_escapes_and_keeps_the_value(users):
    u = users.make()
    u.write_factors(hostile_file(new_secret()))
    for args in (["status", "--json", "--user", u.name], ["trust", "list", "--json", "--user", u.name]):
        r = cli(*args, text=False)
        assert r.returncode == 0, r
        assert_no_raw(r.stdout, " ".join(args))
        value = json.loads(r.stdout)  # still one valid object, the values unchanged
        devices = value.get("trusted_devices") or value.get("trustedDevices")
        assert devices[0]["service"] == "sshd" + ESC_CLEAR and devices[0]["rhost"] == "host" + RLO + "\u2066x"
    status = json.loads(cli("status", "--json", "--user", u.name, text=False).stdout)
    assert status["authenticators"][0]["label"] == "phone" + ESC_TITLE + RLO + "gpj.exe"


def test_report_escapes_what_the_records_hold(users):
    """`twostep report` (and `status`'s error): a record that is corrupt on
    a line holding escapes (the error quotes the unknown algorithm), and one
    with escapes in labels and trust records: nothing raw reaches the terminal."""
    corrupt = users.make()
    corrupt.write_factors(factor_text(totp_line(new_secret(), algorithm=enc("SHA1" + ESC_CLEAR + RLO))))
    r = cli("status", "--user", corrupt.name, text=False)
    assert r.returncode == 3 and b"unknown algorithm 'SHA1\\u{1B}[2J" in r.stderr, r
    assert_no_raw(r.stdout + r.stderr, "status of a corrupt record")
    hostile = users.make()
    hostile.write_factors(hostile_file(new_secret()))
    for args in (["report"], ["report", "--json"]):
        r = cli(*args, text=False)
        assert corrupt.name.encode() in r.stdout, r
        assert_no_raw(r.stdout + r.stderr, " ".join(args))


def test_cli_refuses_such_labels(test_user):
    """enroll and add refuse a label with an escape, a bidi override, or
    one heavy character (many combining accents); nothing is written."""
    path = os.path.join(test_user.home, ".twostep")
    for label in ("evil" + ESC_CLEAR, "gpj" + RLO + "exe", "a\u2066b\u2069", "x\u200by", "e" + "\u0301" * 10_000):
        r = cli("enroll", "--user", test_user.name, "--secret", SECRET, "--code", totp(SECRET),
                "--no-qr", "--label", label)
        assert r.returncode == 2 and "printable" in r.stderr, (label[:20], r)
        assert not os.path.exists(path)
        assert_no_raw(r.stderr.encode(), "the error message")
    r = cli("enroll", "--user", test_user.name, "--secret", SECRET, "--code", totp(SECRET),
            "--no-qr", "--issuer", "Bank" + RLO)
    assert r.returncode == 2 and "--issuer" in r.stderr, r
    # A phone's label is refused before any code is sent to the phone.
    r = cli("enroll", "--user", test_user.name, "--secret", SECRET, "--code", totp(SECRET),
            "--no-qr", "--phone", "+966501234534", "--phone-label", "mobile" + RLO)
    assert r.returncode == 2 and "--phone-label" in r.stderr and "Sending a code" not in r.stderr, r
    r = cli("add", "phone", "+966501234534", "--user", test_user.name, "--label", "a\u2066b")
    assert r.returncode == 2 and "--label" in r.stderr and "Sending a code" not in r.stderr, r
    # The right-to-left mark of an Arabic label is fine.
    r = cli("enroll", "--user", test_user.name, "--secret", SECRET, "--code", totp(SECRET),
            "--no-qr", "--label", "هاتفي" + RLM, "--json")
    assert r.returncode == 0, r
    assert "label=" + enc("هاتفي" + RLM) in open(path).read() or "هاتفي" in open(path).read()


def test_twostepd_refuses_such_labels(user, daemon):
    """twostepd's Manage methods apply the same rule to what a client sends
    (the CLI's own check is not the only one)."""
    backup = user.enroll()["backup_codes"][0]
    before = open(daemon.record(user)).read()
    manage = os.path.join(daemon.sockets, "io.twostep.Manage")
    for label in ("gpj" + RLO + "exe", "evil" + ESC_TITLE, "e" + "\u0301" * 300):
        key = {"secret": SECRET2, "algorithm": "SHA1", "digits": 6, "period": 30, "label": label}
        reply = varlink_call(manage, "io.twostep.Manage.AddAuthenticator",
                             {"key": key, "newCode": totp(SECRET2), "code": backup}, uid=user.account.uid)
        assert "error" in reply and "printable" in json.dumps(reply), reply
    assert open(daemon.record(user)).read() == before
    assert user.run("verify", "--code", backup).returncode == 0  # not spent


def test_arabic_label_with_a_right_to_left_mark_logs_in(pam, users):
    """A record written under the old rule (label ending in U+200F) parses
    and logs in through the real module."""
    u = users.make()
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret, label=enc("هاتفي" + RLM))))
    pam.service("svc")
    r = pam.run("svc", u, [totp_code(u.secret)])
    assert r.result == "PAM_SUCCESS", r


def test_google_authenticator_import_refuses_such_labels(users):
    """`twostep import google-authenticator --label` follows the same rule;
    nothing is written."""
    u = users.make()
    ga = os.path.join(u.home, ".google_authenticator")
    with open(ga, "w") as f:
        f.write(f'{SECRET}\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" TOTP_AUTH\n12345678\n')
    os.chown(ga, u.uid, u.gid)
    os.chmod(ga, 0o400)
    for label in ("ga" + RLO, "ga" + ESC_TITLE):
        r = cli("import", "google-authenticator", "--user", u.name, "--label", label)
        assert r.returncode == 2 and "printable" in r.stderr, r
        assert not os.path.exists(u.factor_path)
        assert_no_raw(r.stderr.encode(), "the error message")
    r = cli("import", "google-authenticator", "--user", u.name, "--label", "هاتفي" + RLM)
    assert r.returncode == 0 and os.path.exists(u.factor_path), r
