"""SMS and voice codes through channel plugins, and "Didn't receive the
code?" (SPEC §3 step 5, §5; issue 4): pam_twostep.so through real libpam
(pamdriver), the twostep CLI, and a login over a real sshd.

Channel plugins live in a private root-owned directory per test (module
option channels=, CLI --channels) holding copies of channels/spool as `sms`
and `voice`; spool appends `<time> <user> <kind> <destination> <code>` to
/var/spool/twostep/outbox, which the tests read (each test has its own
random user). pamdriver and ssh_login.py answer "@cmd:COMMAND" with what
COMMAND prints when the prompt comes: the code just spooled.
"""

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time

import pytest

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)

SPOOL_PLUGIN = REPO / "channels" / "spool"
OUTBOX = "/var/spool/twostep/outbox"
NUMBER = "+966501234534"
MASKED = "+966 ••• ••34"
PROMPT = "Verification code: "
WRONG = "Wrong code."


def phone_line(number=NUMBER, id="phone-1", channel="sms", label="mobile", created=1):
    return f"phone id={id} number={number} channel={channel} label={label} created={created}"


def spooled(user):
    """The outbox lines for `user`: [(time, kind, destination, code)]."""
    try:
        lines = open(OUTBOX).read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        f = line.split(" ")
        if len(f) == 5 and f[1] == getattr(user, "name", user):
            out.append((int(f[0]), f[2], f[3], f[4]))
    return out


def spool_cmd(user):
    """An @cmd: answer: the last code spooled for `user`."""
    name = getattr(user, "name", user)
    return f"@cmd:awk -v u={shlex.quote(name)} '$2==u {{c=$5}} END {{print c}}' {OUTBOX}"


def write_plugin(directory, kind, text, mode=0o755):
    path = os.path.join(directory, kind)
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


@pytest.fixture
def channels(tmp_path):
    """A root-owned channels directory with the spool plugin as sms and voice."""
    d = tmp_path / "channels"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    for kind in ("sms", "voice"):
        shutil.copy(SPOOL_PLUGIN, d / kind)
        os.chmod(d / kind, 0o755)
    return str(d)


@pytest.fixture
def phone_user(users, pam):
    """A user with an SMS phone and one backup code (no authenticator), in
    the home-directory store; root confirmed the number (pam.confirm_phone:
    the module sends only to such numbers from a store the user owns)."""
    u = users.make()
    u.backup = new_backup_code()
    u.write_factors(factor_text(phone_line(), backup_line(u.backup)))
    pam.confirm_phone(u, NUMBER)
    return u


def send_code(pam, u, choice="2", service="svc"):
    """A login that asks for a code by SMS and then gives up: returns the run."""
    r = pam.run(service, u, ["?", choice])
    assert r.result != "PAM_SUCCESS", r
    return r


# --------------------------------------------------------------------------
# Through libpam


def test_menu_sms_code_accepted(pam, channels, phone_user):
    """? -> menu -> SMS chosen -> the code the spool received -> accepted."""
    u = phone_user
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", u, ["?", "2", spool_cmd(u)])
    assert r.result == "PAM_SUCCESS", r
    assert r.infos[:3] == ["Didn't receive the code? Other ways to sign in:",
                           "  1. a backup code", f"  2. SMS to {MASKED}"], r
    assert r.texts("PROMPT_ECHO_ON") == ["Your choice (1-2, or Enter to go back): "], r
    assert f"A code was sent by SMS to {MASKED}. It is valid for 5 minutes." in r.infos, r
    assert r.texts("PROMPT_ECHO_OFF") == [PROMPT, PROMPT], r
    sent = spooled(u)
    assert len(sent) == 1 and sent[0][1:3] == ("sms", NUMBER), sent
    assert abs(sent[0][0] - time.time()) < 60
    text = u.read_factors()
    assert records(text, "pending") == [], "a used code's line is removed"
    assert len(records(text, "sends")) == 1
    assert sent[0][3] not in text, "the code is stored hashed only"
    st = os.stat(u.factor_path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (u.uid, 0o600)
    # The spool is root's, mode 0600.
    st = os.stat(OUTBOX)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)

    # The same code a second time: refused.
    again = pam.run("svc", u, [sent[0][3]])
    assert again.result == "PAM_AUTH_ERR" and WRONG in again.errors, again


def test_voice_and_phone_only_menu(pam, channels, users):
    """A user with phones and no backup codes: the menu lists the phones only;
    a voice phone goes through the voice plugin."""
    u = users.make()
    u.write_factors(factor_text(phone_line(), phone_line("+14155550100", id="phone-2", channel="voice")))
    pam.confirm_phone(u, NUMBER)
    pam.confirm_phone(u, "+14155550100")
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", u, ["", "2", spool_cmd(u)])
    assert r.result == "PAM_SUCCESS", r
    assert "  1. SMS to +966 ••• ••34" in r.infos and "  2. voice call to +1 ••• ••00" in r.infos, r
    assert spooled(u)[-1][1:3] == ("voice", "+14155550100")


def test_pending_code_held_across_logins(pam, channels, phone_user):
    """The code sent in one conversation works in the next (it is in the file)."""
    pam.service("svc", f"channels={channels}")
    send_code(pam, phone_user)
    code = spooled(phone_user)[-1][3]
    assert len(records(phone_user.read_factors(), "pending")) == 1
    r = pam.run("svc", phone_user, [code])
    assert r.result == "PAM_SUCCESS", r


def test_expired_code_refused(pam, channels, phone_user):
    u = phone_user
    pam.service("svc", f"channels={channels}")
    send_code(pam, u)
    code = spooled(u)[-1][3]
    text = u.read_factors()
    pending = records(text, "pending")[0]
    past = int(time.time()) - 1
    expired = text.replace(f"created={pending['created']} expires={pending['expires']}",
                           f"created={past - 300} expires={past}")
    assert expired != text
    u.write_factors(expired)
    r = pam.run("svc", u, [code])
    assert r.result == "PAM_AUTH_ERR" and WRONG in r.errors, r
    # The same code with the expiry back in the future is accepted: it was
    # the expiry, nothing else, that refused it.
    u.write_factors(u.read_factors().replace(f"expires={past}", f"expires={past + 300}"))
    assert pam.run("svc", u, [code]).result == "PAM_SUCCESS"


def test_superseded_code_refused(pam, channels, phone_user):
    u = phone_user
    pam.service("svc", f"channels={channels}")
    send_code(pam, u)
    old = spooled(u)[-1][3]
    send_code(pam, u)
    new = spooled(u)[-1][3]
    if new == old:  # one chance in a million
        pytest.skip("the two codes happen to be equal")
    assert len(records(u.read_factors(), "pending")) == 1
    r = pam.run("svc", u, [old])
    assert r.result == "PAM_AUTH_ERR", r
    assert pam.run("svc", u, [new]).result == "PAM_SUCCESS"


def test_send_limit_reached(pam, channels, phone_user):
    """3 sends per 15 minutes by default; the 4th is refused plainly and
    nothing is sent; the other methods still work."""
    u = phone_user
    pam.service("svc", f"channels={channels}")
    for _ in range(3):
        send_code(pam, u)
    assert len(spooled(u)) == 3
    pending_before = records(u.read_factors(), "pending")
    r = pam.run("svc", u, ["?", "2", u.backup])
    assert r.result == "PAM_SUCCESS", r
    assert any(e.startswith("Too many codes were sent recently: no code was sent. Try again in ")
               for e in r.errors), r
    assert len(spooled(u)) == 3, "no send past the limit"
    assert records(u.read_factors(), "pending") == pending_before


def test_send_limit_option(pam, channels, phone_user):
    pam.service("svc", f"channels={channels} send_limit=1 send_window=3600")
    send_code(pam, phone_user)
    r = pam.run("svc", phone_user, ["?", "2"])
    assert any("Too many codes" in e for e in r.errors), r
    assert len(spooled(phone_user)) == 1
    assert pam.run("svc", phone_user, ["?", "2"], wrapper=False).result != "PAM_SUCCESS"
    bad = pam.service("bad", f"channels={channels} send_limit=0")
    assert pam.run(bad, phone_user, []).result == "PAM_SERVICE_ERR"


def test_hanging_plugin_killed_backup_still_works(pam, tmp_path, phone_user):
    """A plugin that hangs is killed (with what it started) at 10 s; the user
    is told, no code is left pending, and a backup code still logs in."""
    d = tmp_path / "hang"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    marker = f"sleep 60.{secrets.randbelow(10**6):06d}"
    write_plugin(str(d), "sms", f"#!/bin/sh\n{marker}\necho finished\n")
    pam.service("svc", f"channels={d}")
    t0 = time.monotonic()
    r = pam.run("svc", phone_user, ["?", "2", phone_user.backup])
    elapsed = time.monotonic() - t0
    assert r.result == "PAM_SUCCESS", r
    assert "The SMS service did not answer in time: no code was sent. Try again later, or use another method." in r.errors, r
    assert 9.5 <= elapsed < 20, elapsed
    assert records(phone_user.read_factors(), "pending") == []
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout == "", f"the plugin's child survived: {left.stdout}"


@pytest.mark.parametrize("problem", ["group-writable", "other-writable", "not-root", "symlink", "dir-writable", "fails"])
def test_unsafe_or_failing_plugin_never_sends(pam, tmp_path, users, phone_user, problem):
    """A plugin that fails a check is not run; one that fails is reported;
    neither leaves a usable code, and the backup code still works."""
    d = tmp_path / "ch"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    ran = tmp_path / "ran"
    body = f"#!/bin/sh\ntouch {ran}\n" + ("echo 'gateway said no' >&2\nexit 3\n" if problem == "fails" else "")
    path = write_plugin(str(d), "sms", body)
    if problem == "group-writable":
        os.chmod(path, 0o775)
    elif problem == "other-writable":
        os.chmod(path, 0o757)
    elif problem == "not-root":
        os.chown(path, users.make().uid, 0)
    elif problem == "symlink":
        os.rename(path, str(d / "real"))
        os.symlink("real", path)
    elif problem == "dir-writable":
        os.chmod(d, 0o775)
    pam.service("svc", f"channels={d}")
    r = pam.run("svc", phone_user, ["?", "2", phone_user.backup], wrapper=True)
    assert r.result == "PAM_SUCCESS", r
    assert "No code could be sent by SMS. Try again later, or use another method." in r.errors, r
    assert ran.exists() == (problem == "fails"), "an unsafe plugin must not run"
    assert records(phone_user.read_factors(), "pending") == []
    log = "\n".join(r.syslog)
    assert ("refusing channel plugin" in log) == (problem != "fails"), log
    if problem == "fails":
        assert "exited with status 3: gateway said no" in log, log


def test_plugin_environment_and_descriptors(pam, tmp_path, phone_user):
    """Clean environment, stdin /dev/null, no inherited descriptors, own
    process group, working directory /, run as root."""
    d = tmp_path / "env"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    out = tmp_path / "seen"
    fdlist = tmp_path / "fds"
    write_plugin(str(d), "sms", f"""#!/bin/sh
# First, before the shell opens anything: the shell's descriptors as exec'd.
find /proc/$$/fd -mindepth 1 -printf '%f %l\\n' > {fdlist}
{{
  echo "uid=$(id -u)"
  echo "cwd=$(pwd)"
  echo "pgid=$(ps -o pgid= -p $$ | tr -d ' ') pid=$$"
  echo "stdin=$(readlink /proc/$$/fd/0)"
  env | sed 's/^/env /'
}} > {out}
""")
    pam.service("svc", f"channels={d}")
    r = pam.run("svc", phone_user, ["?", "2", phone_user.backup])
    assert r.result == "PAM_SUCCESS", r
    seen = out.read_text().splitlines()
    assert "uid=0" in seen and "cwd=/" in seen and "stdin=/dev/null" in seen, seen
    pg = next(l for l in seen if l.startswith("pgid="))
    pgid, pid = pg.split()
    assert pgid.split("=")[1] == pid.split("=")[1], pg
    env = dict(l[4:].split("=", 1) for l in seen if l.startswith("env "))
    env.pop("PWD", None)  # set by the shell itself
    assert set(env) == {"TWOSTEP_USER", "TWOSTEP_DESTINATION", "TWOSTEP_CODE", "TWOSTEP_KIND", "PATH"}, env
    assert env["TWOSTEP_USER"] == phone_user.name and env["TWOSTEP_DESTINATION"] == NUMBER
    assert env["TWOSTEP_KIND"] == "sms" and len(env["TWOSTEP_CODE"]) == 6 and env["TWOSTEP_CODE"].isdigit()
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    fds = dict(l.split(" ", 1) for l in fdlist.read_text().splitlines())
    # 0-2, and what dash itself opens: its script, and copies of 0-2 it
    # saves around a redirection. The factor file, libpam's or pamdriver's
    # descriptors (or the read end of the output pipe) must not be there.
    assert fds["0"] == "/dev/null" and fds["2"].startswith("pipe:"), fds
    extra = {n: t for n, t in fds.items()
             if int(n) > 2 and not t.endswith("/env/sms") and t not in (fds["0"], fds["2"])}
    assert extra == {}, f"inherited descriptors: {extra}"


def test_unknown_user_menu_reveals_nothing(pam, channels, users):
    """With channels configured, `?` for an unknown user looks like `?` for
    an enrolled user without a phone (the generic backup-code line)."""
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret), backup_line(new_backup_code())))
    pam.service("svc", f"channels={channels}")
    bad = wrong_code(secret)
    for answers in (["?", bad], ["", "?", bad]):
        known = pam.run("svc", u, answers)
        unknown = pam.run("svc", "tsmod-nosuchuser", answers)
        assert known.transcript() == unknown.transcript(), (known, unknown)


def test_menu_back_and_bad_choice(pam, channels, phone_user):
    pam.service("svc", f"channels={channels}")
    r = pam.run("svc", phone_user, ["?", "", "?", "7", "?", "1"])
    assert "There is no choice '7'." in r.errors, r
    assert "Type one of your backup codes at the prompt." in r.infos, r
    assert spooled(phone_user) == [], "nothing chosen, nothing sent"


# --------------------------------------------------------------------------
# The CLI


def add_phone_interactively(u, channels, *extra, answer=None):
    """`twostep add phone` as root for `u`, typing back (on stdin) the code the
    spool received, or `answer`."""
    argv = cli_argv("add", "phone", NUMBER, "--user", u.name, "--channels", channels, *extra)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd="/")
    deadline = time.monotonic() + 20
    while not spooled(u) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    code = spooled(u)[-1][3] if spooled(u) else ""
    out, err = p.communicate((answer if answer is not None else code) + "\n", timeout=30)
    return p.returncode, out, err, code


def test_cli_add_phone_round_trip(channels, users):
    u = users.make()
    u.write_factors(factor_text(totp_line(new_secret()), backup_line(new_backup_code())))
    rc, out, err, code = add_phone_interactively(u, channels, "--label", "Work mobile")
    assert rc == 0, (out, err)
    assert f"Added phone phone-1: SMS to {MASKED}" in out, out
    assert code and code not in u.read_factors()
    phone = records(u.read_factors(), "phone")
    assert phone == [{"id": "phone-1", "number": NUMBER, "channel": "sms", "label": "Work%20mobile",
                      "created": phone[0]["created"]}], phone
    st = cli("status", "--user", u.name)
    assert f"phone-1  {MASKED}  SMS  \"Work mobile\"" in st.stdout, st.stdout
    assert NUMBER not in st.stdout
    js = cli("status", "--user", u.name, "--json")
    assert f'"number":"{MASKED}"' in js.stdout, js.stdout

    # Removed with `twostep remove ID`.
    rm = cli("remove", "phone-1", "--user", u.name)
    assert rm.returncode == 0, rm.stderr
    assert records(u.read_factors(), "phone") == []


def test_cli_add_phone_wrong_code_saves_nothing(channels, users):
    u = users.make()
    u.write_factors(factor_text(totp_line(new_secret())))
    rc, out, err, code = add_phone_interactively(u, channels, answer="000000")
    if code == "000000":
        pytest.skip("the sent code happened to be 000000")
    assert rc == 1, (out, err)
    assert "the phone was not added" in err, err
    assert records(u.read_factors(), "phone") == []


def test_cli_add_phone_plugin_fails_saves_nothing(tmp_path, users):
    """A number that cannot receive (the channel fails) is not saved."""
    d = tmp_path / "ch"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    write_plugin(str(d), "sms", "#!/bin/sh\necho 'no such number' >&2\nexit 1\n")
    u = users.make()
    u.write_factors(factor_text(totp_line(new_secret())))
    p = cli("add", "phone", NUMBER, "--user", u.name, "--channels", str(d), stdin="")
    assert p.returncode == 1, p
    assert "no code could be sent" in p.stderr and "not added" in p.stderr, p.stderr
    assert records(u.read_factors(), "phone") == []


@pytest.mark.parametrize("number", ["0501234534", "966501234534", "+1234567", "+966 50 12x 4534", "+0501234534"])
def test_cli_add_phone_invalid_number(channels, users, number):
    u = users.make()
    u.write_factors(factor_text(totp_line(new_secret())))
    p = cli("add", "phone", number, "--user", u.name, "--channels", channels)
    assert p.returncode == 2, p
    assert "region code" in p.stderr, p.stderr
    assert spooled(u) == []


def test_cli_add_phone_as_user_needs_a_code(channels, users):
    """A user adding their own phone authorizes with a code first; a wrong
    one counts as a failure and nothing is sent."""
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret)))
    p = cli("add", "phone", NUMBER, "--channels", channels, "--code", wrong_code(secret), user=u)
    assert p.returncode == 1, p
    assert spooled(u) == []
    assert failure_count(u.read_factors()) == 1


def test_cli_enroll_with_phone_and_no_backup_codes(channels, users):
    u = users.make()
    secret = new_secret()
    avoid_step_edge()
    argv = cli_argv("enroll", "--user", u.name, "--secret", secret, "--code", totp_code(secret),
                    "--phone", "+44 7700 900123", "--channel", "voice", "--backup-codes", "0", "--json",
                    "--channels", channels)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    deadline = time.monotonic() + 20
    while not spooled(u) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    out, err = p.communicate(spooled(u)[-1][3] + "\n", timeout=30)
    assert p.returncode == 0, (out, err)
    assert '"phone_id":"phone-1"' in out and '"backup_codes":[]' in out, out
    assert spooled(u)[-1][1:3] == ("voice", "+447700900123")
    text = u.read_factors()
    assert records(text, "backup") == [] and len(records(text, "phone")) == 1
    # Without a phone, 0 backup codes is still a usage error.
    p = cli("enroll", "--user", users.make().name, "--backup-codes", "0", "--code", "1")
    assert p.returncode == 2 and "backup method is required" in p.stderr, p.stderr


# --------------------------------------------------------------------------
# Done means: a phone-only user logs in over sshd with a code sent by SMS.

SSHD_SH = str(HERE / "sshd.sh")
SSH_LOGIN = str(HERE / "ssh_login.py")


@pytest.fixture
def sshd_server(module, tmp_path):
    started = []

    def start(stack):
        directory = tmp_path / f"sshd{len(started)}"
        directory.mkdir()
        service = f"twostep-ch-{secrets.token_hex(3)}"
        port = free_port()
        stack_file = tmp_path / f"stack{len(started)}"
        stack_file.write_text(stack)
        started.append((str(directory), service))
        env = dict(os.environ, SSHD_DIR=str(directory), SSHD_PORT=str(port), SSHD_SERVICE=service,
                   SSHD_PAM_STACK=str(stack_file), SSHD_AUTH="kbdint")
        p = subprocess.run(["bash", SSHD_SH, "start"], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"sshd.sh start failed:\n{p.stdout}\n{p.stderr}"
        return port, str(directory)

    os.chmod(tmp_path, 0o755)
    try:
        yield start
    finally:
        for directory, service in started:
            subprocess.run(["bash", SSHD_SH, "stop", directory], capture_output=True, timeout=60)


def test_sshd_phone_only_user_logs_in_with_sms_code(module, sshd_server, channels, users, pam):
    u = users.make()
    u.write_factors(factor_text(phone_line()))
    pam.confirm_phone(u, NUMBER)
    stack = (f"auth required {module} channels={channels} send_count_dir={pam.sends}\n"
             "account required pam_unix.so\nsession required pam_permit.so\npassword required pam_deny.so\n")
    port, directory = sshd_server(stack)
    args = [sys.executable, SSH_LOGIN, "--port", str(port), "--user", u.name, "--timeout", "30",
            "--command", "echo LOGGED-IN-BY-SMS", "--code", "?", "--code", spool_cmd(u),
            "--answer", r"^Your choice=1"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    log = open(os.path.join(directory, "sshd.log")).read() if os.path.exists(os.path.join(directory, "sshd.log")) else ""
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}\n{log[-3000:]}"
    assert "RESULT: LOGGED-IN" in p.stdout
    assert f"MESSAGE:   1. SMS to {MASKED}" in p.stdout, p.stdout
    assert len(spooled(u)) == 1 and spooled(u)[0][1:3] == ("sms", NUMBER)
    assert records(u.read_factors(), "pending") == []


# Issue 19, items 1 and 2: root counts the sends; a home store's numbers
# must be confirmed through root

def test_deleting_the_sends_line_does_not_reset_the_limit(pam, channels, phone_user):
    """A user-owned file's `sends` line is the user's to delete: the count
    that stops sends is root's (send_count_dir=), which they cannot touch."""
    u = phone_user
    pam.service("svc", f"channels={channels}")
    for _ in range(3):
        send_code(pam, u)
        # What the review did between logins: drop the sends and pending lines.
        u.write_factors("\n".join(l for l in u.read_factors().splitlines()
                                  if not l.startswith(("sends ", "pending "))) + "\n")
    r = pam.run("svc", u, ["?", "2"])
    assert any("Too many codes" in e for e in r.errors), r
    assert len(spooled(u)) == 3, "no send past the limit"
    assert len(read_tally(pam.sends, f"user.{u.name}")) == 3
    assert len(read_tally(pam.sends, f"number.{NUMBER}")) == 3
    st = os.stat(pam.sends)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o700)


def test_a_number_the_user_wrote_is_never_sent_to(pam, channels, users):
    """Home store: a phone line appended by hand, never confirmed through
    root, gets no send (the module runs the plugin as root); the other
    methods still work, and the log says why."""
    u = users.make()
    backups = [new_backup_code() for _ in range(3)]
    u.write_factors(factor_text(*(backup_line(b, id=f"backup-{i}") for i, b in enumerate(backups)),
                                phone_line("+447700900123")))
    pam.service("svc", f"channels={channels}")
    for backup in backups:
        r = pam.run("svc", u, ["?", "2", backup], wrapper=True)
        assert r.result == "PAM_SUCCESS", r
        assert any("not confirmed by an administrator" in e for e in r.errors), r
    assert spooled(u) == []
    assert any("never confirmed through root" in line for line in r.syslog), r.syslog
    # Confirmed by root: sent (the backup codes are used up: the phone is choice 1).
    pam.confirm_phone(u, "+447700900123")
    r = pam.run("svc", u, ["?", "1", spool_cmd(u)])
    assert r.result == "PAM_SUCCESS", r
    assert [s[2] for s in spooled(u)] == ["+447700900123"]


def test_one_number_shares_one_limit_across_accounts(pam, channels, users):
    """Per number as well as per account: four accounts that all list one
    number get send_limit sends to it in all."""
    pam.service("svc", f"channels={channels} send_limit=2")
    accounts = []
    for _ in range(4):
        u = users.make()
        u.backup = new_backup_code()
        u.write_factors(factor_text(phone_line(), backup_line(u.backup)))
        pam.confirm_phone(u, NUMBER)
        accounts.append(u)
        send_code(pam, u)
    assert sum(len(spooled(u)) for u in accounts) == 2


def test_an_unusable_send_tally_sends_nothing(pam, channels, phone_user):
    """Fail closed: a tally directory that is not root's own, or a corrupt
    tally, means no send (and says so in the log), never an uncounted one."""
    u = phone_user
    pam.service("svc", f"channels={channels}")
    write_tally(pam.sends, f"number.{NUMBER}", "sends times=notanumber\n")
    r = pam.run("svc", u, ["?", "2", u.backup], wrapper=True)
    assert r.result == "PAM_SUCCESS" and spooled(u) == [], r
    assert any("cannot count a send" in line and "corrupt" in line for line in r.syslog), r.syslog
    os.remove(os.path.join(pam.sends, f"number.{NUMBER}"))
    os.chmod(pam.sends, 0o755)
    r = pam.run("svc", u, ["?", "1"], wrapper=True)  # the backup code is spent: the phone is 1
    assert spooled(u) == [], r
    assert any("mode 0700" in line for line in r.syslog), r.syslog
