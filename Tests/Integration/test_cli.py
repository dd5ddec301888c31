"""End-to-end tests of the `twostep` CLI, run as a real non-root user.

Each test gets a fresh user (conftest.test_user) and runs the binary as that
user (harness.cli), or as root with --user. Codes come from oathtool, an
independent TOTP generator. A code is single-use: enroll spends the current
time step, so later TOTP checks use the next step (oathtool -N 'now + 30
seconds', inside the default window of 1) and authorizations use backup codes.
"""

import json
import os
import re
import stat
import subprocess
import tempfile

import pytest

from harness import cli
from pamtest import avoid_step_edge

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRET2 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def totp(secret, offset=0, digits=6, algorithm="SHA1", period=30):
    now = "now" if offset == 0 else f"now {offset:+d} seconds"
    out = subprocess.run(
        ["oathtool", "--totp=" + algorithm, "-d", str(digits), "-s", f"{period}s", "-N", now, "-b", secret],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


class CLI:
    """Runs twostep (harness.cli) as the test user, or as root; `env`:
    variables every run adds (test_daemon_manage's User: the daemon's)."""

    def __init__(self, user, env=None):
        self.user = user
        self.env = env

    def run(self, *args, stdin="", root=False):
        return cli(*args, user=None if root else self.user, stdin=stdin, env=self.env)

    @property
    def path(self):
        return os.path.join(self.user.home, ".twostep")

    def enroll(self, *extra, secret=SECRET):
        r = self.run("enroll", "--secret", secret, "--code", totp(secret), "--json", *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def status(self):
        r = self.run("status", "--json")
        return r.returncode, json.loads(r.stdout)


@pytest.fixture(name="cli")
def cli_fixture(test_user):
    return CLI(test_user)


# enroll

def test_enroll_json_writes_a_private_file_and_prints_one_object(cli):
    r = cli.run("enroll", "--secret", SECRET, "--json", stdin=totp(SECRET) + "\n")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)  # the whole of stdout is one object
    assert set(result) == {"user", "uri", "secret", "authenticator_id", "backup_codes"}
    assert result["user"] == cli.user.name
    assert result["secret"] == SECRET
    assert result["uri"].startswith("otpauth://totp/")
    assert f"secret={SECRET}" in result["uri"] and "issuer=twostep%20on%20" in result["uri"]
    assert result["authenticator_id"] == "totp-1"
    assert len(result["backup_codes"]) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}", c) for c in result["backup_codes"])
    assert "Enter the code from your app" in r.stderr
    assert SECRET not in r.stderr
    st = os.stat(cli.path)
    assert (st.st_uid, st.st_gid) == (cli.user.uid, cli.user.gid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    text = open(cli.path).read()
    assert not any(code.replace("-", "") in text for code in result["backup_codes"])


def test_enroll_with_a_wrong_code_writes_nothing(cli):
    r = cli.run("enroll", "--secret", SECRET, "--code", "000000", "--no-qr")
    assert r.returncode == 1
    assert "nothing was saved" in r.stderr
    assert not os.path.exists(cli.path)


def test_enroll_without_an_answer_is_a_usage_error(cli):
    r = cli.run("enroll", "--no-qr", stdin="")
    assert r.returncode == 2
    assert not os.path.exists(cli.path)


def test_enroll_requires_a_backup_method(cli):
    r = cli.run("enroll", "--backup-codes", "0", "--secret", SECRET, "--code", totp(SECRET))
    assert r.returncode == 2
    assert "a backup method is required" in r.stderr
    assert not os.path.exists(cli.path)


def test_enroll_with_parameters_puts_them_in_the_uri(cli):
    r = cli.run("enroll", "--secret", SECRET, "--algorithm", "SHA256", "--digits", "8", "--period", "60",
                "--label", "Phone", "--issuer", "Example", "--json",
                "--code", totp(SECRET, digits=8, algorithm="SHA256", period=60))
    assert r.returncode == 0, r.stderr
    uri = json.loads(r.stdout)["uri"]
    assert "algorithm=SHA256" in uri and "digits=8" in uri and "period=60" in uri and "issuer=Example" in uri
    _, status = cli.status()
    assert status["authenticators"][0] | {"created": 0} == {
        "id": "totp-1", "label": "Phone", "algorithm": "SHA256", "digits": 8, "period": 60, "created": 0}


def test_enroll_over_an_existing_file_needs_force_and_an_old_code(cli):
    first = cli.enroll()
    r = cli.run("enroll", "--secret", SECRET2, "--code", totp(SECRET2), "--no-qr")
    assert r.returncode == 2
    assert "--force" in r.stderr
    r = cli.run("enroll", "--force", "--secret", SECRET2, "--code", totp(SECRET2), "--old-code", "abcd-efgh-jk", "--no-qr")
    assert r.returncode == 1
    r = cli.run("enroll", "--force", "--secret", SECRET2, "--code", totp(SECRET2),
                "--old-code", first["backup_codes"][0], "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["secret"] == SECRET2


# status

def test_status_when_not_enrolled_exits_1(cli):
    r = cli.run("status")
    assert r.returncode == 1
    assert "off" in r.stdout and "twostep enroll" in r.stdout
    code, status = cli.status()
    assert code == 1 and status["enabled"] is False


def test_status_when_enrolled(cli):
    cli.enroll()
    r = cli.run("status")
    assert r.returncode == 0, r.stderr
    assert "is on" in r.stdout and "totp-1" in r.stdout and "Backup codes left: 10" in r.stdout
    code, status = cli.status()
    assert code == 0
    assert status["enabled"] is True and status["user"] == cli.user.name
    assert status["backup_codes_left"] == 10 and status["trusted_devices"] == [] and status["failures"] == 0
    assert [a["id"] for a in status["authenticators"]] == ["totp-1"]
    assert SECRET not in r.stdout


# verify

def test_verify_accepts_a_right_code_once_and_refuses_a_wrong_one(cli):
    # The enrolment code is made again below: both in one time step.
    avoid_step_edge(margin=6)
    cli.enroll()
    enrolled_code = totp(SECRET)
    r = cli.run("verify", "--code", enrolled_code)
    assert r.returncode == 1, "the code that confirmed enrolment must not be usable again"
    code = totp(SECRET, 30)
    r = cli.run("verify", stdin=code + "\n")
    assert r.returncode == 0, r.stderr
    assert "Code accepted." in r.stdout
    assert code not in r.stderr
    r = cli.run("verify", stdin=code + "\n")
    assert r.returncode == 1
    assert "already used" in r.stderr
    r = cli.run("verify", "--code", "000000" if code != "000000" else "111111")
    assert r.returncode == 1
    assert "wrong code" in r.stderr


def test_backup_code_works_once(cli):
    codes = cli.enroll()["backup_codes"]
    r = cli.run("verify", "--code", codes[3].upper().replace("-", " "))
    assert r.returncode == 0, r.stderr
    assert "Code accepted." in r.stdout and "9 backup codes left." in r.stdout
    r = cli.run("verify", "--code", codes[3])
    assert r.returncode == 1
    assert cli.status()[1]["backup_codes_left"] == 9


def test_wrong_codes_lock_out(cli):
    cli.enroll()
    for _ in range(5):
        assert cli.run("verify", "--code", "abcd-efgh-jk").returncode == 1
    r = cli.run("verify", "--code", totp(SECRET, 30))
    assert r.returncode == 1
    assert "refused until" in r.stderr
    status = cli.status()[1]
    assert status["failures"] == 5 and status["locked_until"] > 0


# codes

def test_codes_replaces_every_backup_code(cli):
    old = cli.enroll()["backup_codes"]
    r = cli.run("codes", "--count", "5", "--json", "--code", "abcd-efgh-jk")
    assert r.returncode == 1 and r.stdout == ""
    assert cli.status()[1]["failures"] == 1
    r = cli.run("codes", "--count", "5", "--json", "--code", old[0])
    assert r.returncode == 0, r.stderr
    new = json.loads(r.stdout)["backup_codes"]
    assert len(new) == 5 and not set(new) & set(old)
    assert cli.status()[1]["backup_codes_left"] == 5
    assert cli.run("verify", "--code", old[1]).returncode == 1
    assert cli.run("verify", "--code", new[0]).returncode == 0


def test_codes_reads_the_authorizing_code_from_stdin(cli):
    old = cli.enroll()["backup_codes"]
    r = cli.run("codes", stdin=old[0] + "\n")
    assert r.returncode == 0, r.stderr
    assert "Backup codes" in r.stdout and len(re.findall(r"^  \S{4}-\S{4}-\S{2}$", r.stdout, re.M)) == 10
    assert old[0] not in r.stderr


# add totp, remove

def test_add_totp_and_remove(cli):
    # The new app's confirming code is made again below: both in one time step.
    avoid_step_edge(margin=6)
    codes = cli.enroll()["backup_codes"]
    r = cli.run("add", "totp", "--secret", SECRET2, "--label", "Tablet", "--no-qr",
                "--new-code", totp(SECRET2), "--code", codes[0])
    assert r.returncode == 0, r.stderr
    assert "totp-2" in r.stdout
    authenticators = cli.status()[1]["authenticators"]
    assert [(a["id"], a["label"]) for a in authenticators] == [("totp-1", "authenticator"), ("totp-2", "Tablet")]
    # the new app's confirming code was spent; its next one works
    assert cli.run("verify", "--code", totp(SECRET2)).returncode == 1
    assert cli.run("verify", "--code", totp(SECRET2, 30)).returncode == 0

    r = cli.run("remove", "totp-1", "--code", codes[1])
    assert r.returncode == 0, r.stderr
    assert [a["id"] for a in cli.status()[1]["authenticators"]] == ["totp-2"]
    r = cli.run("remove", "totp-2", "--code", codes[2])
    assert r.returncode == 2
    assert "twostep disable" in r.stderr
    assert cli.run("remove", "backup-5", "--code", codes[2]).returncode == 2
    assert cli.run("remove", "totp-9", "--code", codes[2]).returncode == 2


def test_add_totp_with_a_wrong_authorizing_code_adds_nothing(cli):
    cli.enroll()
    r = cli.run("add", "totp", "--secret", SECRET2, "--no-qr", "--new-code", totp(SECRET2), "--code", "abcd-efgh-jk")
    assert r.returncode == 1
    status = cli.status()[1]
    assert len(status["authenticators"]) == 1 and status["failures"] == 1


# trust

def test_trust_list_when_empty(cli):
    cli.enroll()
    r = cli.run("trust", "list")
    assert r.returncode == 0, r.stderr
    assert "none" in r.stdout
    r = cli.run("trust", "list", "--json")
    assert json.loads(r.stdout) == {"trusted_devices": []}
    assert cli.run("trust", "revoke", "trust-1", "--code", "x").returncode == 2
    assert cli.run("trust", "revoke").returncode == 2


# disable, reset

def test_disable_removes_the_file(cli):
    codes = cli.enroll()["backup_codes"]
    assert cli.run("disable", "--code", "abcd-efgh-jk").returncode == 1
    assert os.path.exists(cli.path)
    r = cli.run("disable", stdin=codes[0] + "\n")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(cli.path)
    assert cli.run("status").returncode == 1


def test_reset_as_root(cli):
    cli.enroll()
    assert cli.run("reset", "--user", cli.user.name).returncode == 2  # not root
    r = cli.run("reset", root=True)
    assert r.returncode == 2 and "--user" in r.stderr
    r = cli.run("reset", "--user", cli.user.name, root=True)
    assert r.returncode == 0, r.stderr
    assert "twostep enroll" in r.stdout
    assert not os.path.exists(cli.path)


# root with --user

def test_root_acts_on_the_users_file_as_the_user(cli):
    r = cli.run("enroll", "--user", cli.user.name, "--secret", SECRET, "--code", totp(SECRET), "--json", root=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["user"] == cli.user.name
    st = os.stat(cli.path)
    assert (st.st_uid, st.st_gid) == (cli.user.uid, cli.user.gid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    r = cli.run("codes", "--user", cli.user.name, "--count", "3", "--json", root=True)  # no code needed
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["backup_codes"]) == 3
    assert os.stat(cli.path).st_uid == cli.user.uid
    r = cli.run("status", "--user", cli.user.name, "--json", root=True)
    assert r.returncode == 0 and json.loads(r.stdout)["backup_codes_left"] == 3


def test_root_on_an_administrator_managed_store(cli):
    with tempfile.TemporaryDirectory() as store:
        os.chmod(store, 0o755)
        template = store + "/%u"
        r = cli.run("enroll", "--user", cli.user.name, "--store", template, "--secret", SECRET,
                    "--code", totp(SECRET), "--json", root=True)
        assert r.returncode == 0, r.stderr
        st = os.stat(os.path.join(store, cli.user.name))
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
        assert cli.run("status", "--user", cli.user.name, "--store", template, root=True).returncode == 0


# usage errors

def test_user_flag_is_for_root_only(cli):
    r = cli.run("status", "--user", "root")
    assert r.returncode == 2
    assert r.stderr.startswith("twostep: ") and "root only" in r.stderr


def test_usage_errors_exit_2_and_help_exits_0(cli):
    r = cli.run("status", "--no-such-flag")
    assert r.returncode == 2 and "Unknown option" in r.stderr
    assert cli.run("enroll", "--digits", "9").returncode == 2
    assert cli.run("enroll", "--secret", "not base32!", "--code", "123456").returncode == 2
    assert cli.run("status", "--store", "relative/path").returncode == 2
    r = cli.run("--help")
    assert r.returncode == 0 and "enroll" in r.stdout
    r = cli.run("enroll", "--help")
    assert r.returncode == 0 and "--backup-codes" in r.stdout


# unusable files: exit 3

def test_world_readable_file_is_refused(cli):
    cli.enroll()
    os.chmod(cli.path, 0o644)
    for args in (["status"], ["verify", "--code", "123456"], ["codes", "--code", "x"]):
        r = cli.run(*args)
        assert r.returncode == 3, args
        assert "mode 644" in r.stderr


def test_symlinked_file_is_refused(cli):
    cli.enroll()
    real = os.path.join(cli.user.home, "factors")
    os.rename(cli.path, real)
    os.symlink(real, cli.path)
    r = cli.run("status")
    assert r.returncode == 3
    assert "symbolic link" in r.stderr
    assert cli.run("verify", "--code", "123456").returncode == 3


def test_corrupt_file_is_refused_with_the_line_number(cli):
    cli.enroll()
    with open(cli.path, "a") as f:
        f.write("bogus line\n")
    lines = open(cli.path).read().count("\n")
    r = cli.run("status")
    assert r.returncode == 3
    assert f"line {lines}" in r.stderr and "corrupt" in r.stderr
    assert cli.run("verify", "--code", "123456").returncode == 3


def test_verify_without_a_file_is_a_file_problem(cli):
    r = cli.run("verify", "--code", "123456")
    assert r.returncode == 3
    assert "twostep enroll" in r.stderr


# the QR code

BLOCKS = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def qr_modules(stdout):
    """The half-block drawing at the top of stdout as rows of booleans (True = dark)."""
    lines = []
    for line in stdout.splitlines():
        if not line or not set(line) <= set(BLOCKS):
            break
        lines.append(line)
    assert lines, "no QR code on stdout"
    size = len(lines[0])
    assert all(len(line) == size for line in lines)
    rows = []
    for line in lines:
        rows.append([not BLOCKS[c][0] for c in line])
        rows.append([not BLOCKS[c][1] for c in line])
    return rows[:size]  # an odd row count leaves half of the last line unused


def write_pbm(path, modules, scale=8, border=4):
    size = len(modules) + 2 * border
    padded = [[False] * size for _ in range(border)]
    padded += [[False] * border + row + [False] * border for row in modules]
    padded += [[False] * size for _ in range(border)]
    with open(path, "w") as f:
        f.write(f"P1\n{size * scale} {size * scale}\n")
        for row in padded:
            line = " ".join("1" if dark else "0" for dark in row for _ in range(scale))
            f.write((line + "\n") * scale)


def test_qr_code_decodes_to_the_printed_uri(cli, tmp_path):
    r = cli.run("enroll", "--secret", SECRET, "--code", totp(SECRET))
    assert r.returncode == 0, r.stderr
    uri = re.search(r"^URI: +(otpauth://\S+)$", r.stdout, re.M).group(1)
    modules = qr_modules(r.stdout)
    assert len(modules) == len(modules[0]) and (len(modules) - 4 - 21) % 4 == 0  # 2-module quiet zone
    assert not any(modules[0]) and not any(row[0] for row in modules)  # the quiet zone is light
    image = tmp_path / "qr.pbm"
    write_pbm(image, modules)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(image)], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == uri


def test_no_qr_and_json_draw_no_qr_code(cli):
    r = cli.run("enroll", "--secret", SECRET, "--code", totp(SECRET), "--no-qr")
    assert r.returncode == 0, r.stderr
    assert "█" not in r.stdout and "URI:" in r.stdout and "JBSW Y3DP" in r.stdout


# Secrets on standard input (issue 19): `--secret -`, `--uri -`, `--code -`
# read one line each, in that order, before any answer to a question, so
# they never appear in /proc/PID/cmdline.


def test_enroll_reads_secret_and_code_from_standard_input(cli):
    avoid_step_edge(margin=8)
    r = cli.run("enroll", "--secret", "-", "--code", "-", "--json", stdin=f"{SECRET}\n{totp(SECRET)}\n")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["secret"] == SECRET
    assert SECRET not in r.stderr
    assert cli.status()[1]["enabled"] is True


def test_enroll_reads_a_uri_from_standard_input_then_prompts(cli):
    """--uri - takes the first line; the code is then asked for and read
    from the next line."""
    avoid_step_edge(margin=8)
    uri = f"otpauth://totp/Example:me?secret={SECRET2}&issuer=Example"
    r = cli.run("enroll", "--uri", "-", "--json", stdin=f"{uri}\n{totp(SECRET2)}\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["secret"] == SECRET2
    assert "Enter the code from your app" in r.stderr


def test_enroll_wrong_code_from_standard_input_fails(cli):
    avoid_step_edge(margin=8)
    right = totp(SECRET)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    r = cli.run("enroll", "--secret", "-", "--code", "-", "--json", stdin=f"{SECRET}\n{wrong}\n")
    assert r.returncode != 0, r.stdout
    assert not os.path.exists(cli.path)
    r = cli.run("enroll", "--secret", "-", "--code", "-", stdin=f"{SECRET}\n")
    assert r.returncode == 2 and "--code -" in r.stderr, r.stderr
    assert not os.path.exists(cli.path)
