"""Issue 19, item 3: records are keyed by the account's own name (pw_name),
never by the name as typed (SPEC §7).

A name service that accepts other spellings (sssd with AD is
case-insensitive by default; `user@domain`; winbind) returns the account
`alice` for `ALICE`. Before, the module built `%u`, the tally and trust
keys and TWOSTEP_USER from the typed name: `ALICE` found no record and,
under nullok, was let in on the password alone.

The tests build a small case-insensitive NSS module (`libnss_ci.so.2`:
getpwnam_r and getspnam_r answering any spelling with the entry of
/etc/passwd and /etc/shadow) and run pamdriver in a mount namespace whose
/etc/nsswitch.conf (a bind mount) says `passwd: files ci`, with
LD_LIBRARY_PATH naming the module's directory (glibc's NSS dlopen honours
it for a process that is not set-id).
"""

import os
import subprocess

import pytest

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)
from test_channels import NUMBER, channels, phone_line, spool_cmd, spooled  # noqa: F401 (fixture)

NSS_SOURCE = r"""
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <strings.h>

/* Any spelling of a name in /etc/passwd (or /etc/shadow) finds its entry,
   whose pw_name is the file's own spelling. */
enum nss_status _nss_ci_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, int *errnop) {
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) { *errnop = errno; return NSS_STATUS_UNAVAIL; }
    struct passwd *res;
    enum nss_status st = NSS_STATUS_NOTFOUND;
    int rc;
    while ((rc = fgetpwent_r(f, pwd, buf, buflen, &res)) == 0)
        if (strcasecmp(res->pw_name, name) == 0) { st = NSS_STATUS_SUCCESS; break; }
    if (rc == ERANGE) { *errnop = ERANGE; st = NSS_STATUS_TRYAGAIN; }
    fclose(f);
    return st;
}

enum nss_status _nss_ci_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t buflen, int *errnop) {
    FILE *f = fopen("/etc/shadow", "re");
    if (!f) { *errnop = errno; return NSS_STATUS_UNAVAIL; }
    struct spwd *res;
    enum nss_status st = NSS_STATUS_NOTFOUND;
    int rc;
    while ((rc = fgetspent_r(f, sp, buf, buflen, &res)) == 0)
        if (strcasecmp(res->sp_namp, name) == 0) { st = NSS_STATUS_SUCCESS; break; }
    if (rc == ERANGE) { *errnop = ERANGE; st = NSS_STATUS_TRYAGAIN; }
    fclose(f);
    return st;
}
"""


@pytest.fixture(scope="module")
def case_insensitive(tmp_path_factory):
    """A command prefix that runs a program under the case-insensitive name service."""
    d = tmp_path_factory.mktemp("nss")
    os.chmod(d, 0o755)
    (d / "nss_ci.c").write_text(NSS_SOURCE)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(d / "libnss_ci.so.2"), str(d / "nss_ci.c")],
                   check=True)
    (d / "nsswitch.conf").write_text("passwd: files ci\ngroup: files\nshadow: files ci\n")
    script = (f"mount --bind {d}/nsswitch.conf /etc/nsswitch.conf && "
              f'LD_LIBRARY_PATH={d} exec "$@"')
    prefix = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "nss-ci"]
    # The name service itself works: another spelling of root is root.
    out = subprocess.run([*prefix, "getent", "passwd", "ROOT"], capture_output=True, text=True)
    assert out.stdout.startswith("root:x:0:0:"), out
    return prefix


@pytest.fixture
def store(tmp_path):
    """An administrator-managed store (root's, 0700): `store=DIR/%u`."""
    d = tmp_path / "store"
    d.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    return str(d)


def enrolled(users, store):
    u = users.make()
    u.secret = new_secret()
    u.backup = new_backup_code()
    u.write_factors(factor_text(totp_line(u.secret), backup_line(u.backup)), path=os.path.join(store, u.name), owner=0)
    return u


def test_another_spelling_is_asked_for_a_code_under_nullok(pam, users, store, case_insensitive):
    """The review's POCUSER4: `store=/var/lib/twostep/%u` and nullok (the
    roll-out default); the upper-case spelling found no record and got
    PAM_IGNORE, i.e. in on the password alone."""
    u = enrolled(users, store)
    typed = u.name.upper()
    pam.probe("svc", f"nullok store={store}/%u")
    # The attack: the other spelling, the password alone (no code).
    r = pam.run("svc", typed, [""], prefix=case_insensitive, wrapper=True)
    assert r.verdict != "PAM_IGNORE" and r.result != "PAM_SUCCESS", r
    assert "Verification code: " in r.prompts, r
    assert any(f"user {typed} (account {u.name})" in line and "differs" in line for line in r.syslog), r.syslog
    # A right code under that spelling is the account's code, spent in its record.
    avoid_step_edge()
    code = totp_code(u.secret)
    r = pam.run("svc", typed, [code], prefix=case_insensitive)
    assert r.verdict == "PAM_SUCCESS", r
    assert pam.run("svc", u.name, [code]).result == "PAM_AUTH_ERR"  # replay under the canonical name
    # Without the NSS module the other spelling is an unknown user (nullok: ignored).
    assert pam.run("svc", typed, [""]).verdict == "PAM_IGNORE"


def test_channel_and_tallies_use_the_accounts_name(pam, users, channels, case_insensitive):
    """TWOSTEP_USER and root's send tallies follow pw_name."""
    u = users.make()
    u.backup = new_backup_code()
    u.write_factors(factor_text(phone_line(), backup_line(u.backup)))
    pam.confirm_phone(u, NUMBER)  # confirmed for the account's name
    pam.service("svc", f"channels={channels}")
    typed = u.name.upper()
    r = pam.run("svc", typed, ["?", "2", spool_cmd(u)], prefix=case_insensitive)
    assert r.result == "PAM_SUCCESS", r
    assert len(spooled(u)) == 1 and spooled(typed) == []
    assert len(read_tally(pam.sends, f"user.{u.name}")) == 1
    assert not os.path.exists(os.path.join(pam.sends, f"user.{typed}"))
