"""The system configuration file, twostep.conf (SPEC §7), as the real
pam_twostep.so reads it at every login: its values take effect, the pam.d
line's options override them, and a file that is bad in any way denies
every login (PAM_SERVICE_ERR, no prompt) with a log line naming the file
and the line. The tests point the module at their own file with config=
(/etc/twostep/twostep.conf is never touched); pamdriver --no-delay as in
test_module.py, pam_wrapper (wrapper=True) where the log is read.
"""

import os
import subprocess
import time

import pytest

from pamtest import *  # noqa: F401,F403  (fixtures and helpers)

PROMPT = "Verification code: "
WRONG = "Wrong code."
UNAVAILABLE = "Two-step verification is unavailable for this account. Contact your administrator."
NOT_ENROLLED = "Two-step verification is required for this account. Run 'twostep enroll' to set it up."


@pytest.fixture
def conf(tmp_path):
    """conf(TEXT, mode=0o644, owner=0, name="twostep.conf") writes a
    configuration file in a root-owned directory and returns its path."""
    d = tmp_path / "etc-twostep"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)

    def write(text, mode=0o644, owner=0, name="twostep.conf"):
        path = d / name
        if path.is_symlink() or path.exists():
            path.unlink()
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        os.chown(path, owner, 0)
        os.chmod(path, mode)
        return str(path)

    return write


@pytest.fixture
def enrolled(users):
    """A user with one TOTP authenticator in ~/.twostep."""
    u = users.make()
    u.secret = new_secret()
    u.write_factors(factor_text(totp_line(u.secret)))
    return u


def code_for(u, path=None):
    return fresh_code(u.secret, u.read_factors(path))


def admin_store(tmp_path, user, text):
    """An administrator-managed store (root-owned directory, mode 0700)
    holding `user`'s file, owned by root, mode 0600. Returns (template, path)."""
    d = tmp_path / "store"
    d.mkdir(mode=0o700, exist_ok=True)
    path = str(d / user.name)
    user.write_factors(text, path=path, owner=0)
    return str(d / "%u"), path


def assert_configuration_error(r, *logged):
    """Denied before any prompt as for a bad option, and the log says why."""
    assert r.result == "PAM_SERVICE_ERR", r
    assert r.prompts == [], r
    assert UNAVAILABLE in r.errors, r
    for text in logged:
        assert any(text in m for m in r.syslog), (text, r.syslog)
    assert any("denying every login until it is fixed" in m for m in r.syslog), r.syslog


# --------------------------------------------------------------------------
# The file's values take effect


def test_store_from_the_file(pam, users, conf, tmp_path):
    u = users.make()
    u.secret = new_secret()
    template, path = admin_store(tmp_path, u, factor_text(totp_line(u.secret)))
    c = conf(f"# where the records are\nstore={template}\n")
    pam.probe("without", "")
    r = pam.run("without", u, [])
    assert r.verdict == "PAM_AUTH_ERR" and NOT_ENROLLED in r.errors, r
    pam.probe("with", f"config={c}")
    code = code_for(u, path)
    r = pam.run("with", u, [code])
    assert r.verdict == "PAM_SUCCESS", r
    assert r.prompts == [PROMPT], r
    # The step was recorded in the file the configuration named.
    assert int(records(u.read_factors(path), "totp")[0]["last-step"]) >= current_step() - 1
    assert not os.path.exists(u.factor_path)


def test_max_failures_from_the_file(pam, enrolled, conf):
    c = conf("max_failures=2\nlockout=600\n")
    pam.service("svc", f"config={c}")
    for _ in range(2):
        r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)])
        assert r.result == "PAM_AUTH_ERR", r
    text = enrolled.read_factors()
    assert failure_count(text) == 2
    assert locked_until(text) > 0, "two wrong codes lock with max_failures=2"
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_AUTH_ERR" and r.prompts == [], r
    assert any("Too many wrong codes" in e for e in r.errors), r


def test_yes_no_and_quoted_values_from_the_file(pam, users, enrolled, conf):
    c = conf('nullok=yes\nprompt="Your code, please: "\n')
    pam.probe("probe", f"config={c}")
    r = pam.run("probe", users.make(), [])
    assert r.verdict == "PAM_IGNORE", r
    r = pam.run("probe", enrolled, [code_for(enrolled)])
    assert r.prompts == ["Your code, please: "], r
    assert r.verdict == "PAM_SUCCESS", r
    c = conf("nullok=no\n")
    r = pam.run("probe", users.make(), [])
    assert r.verdict == "PAM_AUTH_ERR", r


FLEET_KEYS = ("database=postgresql://twostep@db.example/twostep?sslmode=verify-full\n"
              "database_password_file=/etc/twostep/db-password\ndatabase_timeout=3\n"
              "offline=cached\noffline_max_age=3600\n")


def test_the_daemon_and_fleet_keys_are_accepted(pam, enrolled, conf):
    c = conf("self_enroll=no\nsocket_dir=/run/twostep-test\nbackend=file\n" + FLEET_KEYS)
    pam.service("svc", f"config={c}")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r


def test_the_fleet_backend_denies_until_the_module_serves_it(pam, enrolled, conf):
    """backend=postgresql parses, but this module has no fleet store yet: it
    must not fall back to the file store (nullok would let every user
    enrolled in the database through)."""
    c = conf("backend=postgresql\n" + FLEET_KEYS)
    pam.service("svc", f"config={c} nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SERVICE_ERR", r


def test_a_missing_file_is_the_defaults(pam, enrolled, tmp_path):
    pam.service("svc", f"config={tmp_path}/no-such-dir/twostep.conf")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r


PACKAGED_STORE = "/var/lib/twostep"


@pytest.fixture
def packaged_store(tmp_path):
    """packaged_store(records) -> a command prefix running a program in a
    mount namespace whose /var/lib/twostep (the packaged store, SPEC §7)
    is a private tmpfs holding `records` (names of root-owned files), and
    whose /etc/twostep holds no twostep.conf. The host's directories are
    untouched (/var/lib/twostep is made, empty, only if it is missing)."""
    made = not os.path.exists(PACKAGED_STORE)
    os.makedirs(PACKAGED_STORE, mode=0o700, exist_ok=True)
    os.chmod(tmp_path, 0o755)

    def prefix(records=()):
        touch = "".join(f"echo 'twostep 1' > {PACKAGED_STORE}/{r}; chmod 600 {PACKAGED_STORE}/{r}; " for r in records)
        script = (f"mount -t tmpfs -o mode=0700 twostep-test {PACKAGED_STORE} && "
                  "if [ -d /etc/twostep ]; then mount -t tmpfs -o mode=0755 twostep-test /etc/twostep; fi && "
                  f'{touch}exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "packaged-store"]

    yield prefix
    if made:
        os.rmdir(PACKAGED_STORE)


def test_a_missing_file_with_records_in_the_packaged_store_denies(pam, enrolled, packaged_store, daemon_bin, tmp_path):
    """Issue 19, item 7: twostep.conf lost (deleted, a failed upgrade) while
    /var/lib/twostep holds records: its defaults would move every user to
    %h/.twostep and, with nullok, let the enrolled in on the password alone.
    The module denies, twostep and twostepd exit 2, each saying why."""
    other = "bob"  # a record of some other user: any record counts
    pam.probe("svc", "nullok")
    r = pam.run("svc", enrolled, [""], prefix=packaged_store(["alice", other]), wrapper=True)
    assert_configuration_error(r, "/etc/twostep/twostep.conf", "it does not exist, but /var/lib/twostep holds users' records")
    c = cli("status", "--user", enrolled.name, prefix=packaged_store(["alice"]))
    assert c.returncode == 2 and "/var/lib/twostep holds users' records" in c.stderr, c
    sockets = tmp_path / "run"
    sockets.mkdir(mode=0o755)
    d = subprocess.run([*packaged_store(["alice"]), daemon_bin, "--socket-dir", str(sockets)],
                       capture_output=True, text=True, timeout=60)
    assert d.returncode == 2 and "/var/lib/twostep holds users' records" in d.stderr, d
    # An empty one (systemd's StateDirectory= makes it on every start), or
    # one holding only hidden entries and directories, changes nothing.
    r = pam.run("svc", enrolled, [code_for(enrolled)], prefix=packaged_store([".hidden"]))
    assert r.verdict == "PAM_SUCCESS", r


def test_a_symlink_is_followed(pam, enrolled, conf):
    real = conf("max_failures=1\n", name="real.conf")
    link = real.replace("real.conf", "twostep.conf")
    os.symlink(real, link)
    pam.service("svc", f"config={link}")
    r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)])
    assert r.result == "PAM_AUTH_ERR", r
    assert locked_until(enrolled.read_factors()) > 0, "max_failures=1 from the link's target"


# --------------------------------------------------------------------------
# The pam.d line overrides the file


def test_the_line_overrides_the_file(pam, enrolled, conf, tmp_path):
    c = conf(f"store={tmp_path}/nowhere/%u\nmax_failures=2\nwindow=0\n")
    pam.service("svc", f"config={c} store=%h/.twostep max_failures=4")
    for _ in range(2):
        r = pam.run("svc", enrolled, [wrong_code(enrolled.secret)])
        assert r.result == "PAM_AUTH_ERR" and r.errors == [WRONG], r
    text = enrolled.read_factors()
    assert failure_count(text) == 2 and locked_until(text) == 0, "max_failures=4 from the line, not 2"
    # window=0 from the file still holds: the previous step's code is refused.
    avoid_step_edge(margin=4)
    previous = totp_code(enrolled.secret, at=time.time() - 30)
    r = pam.run("svc", enrolled, [previous])
    assert r.result == "PAM_AUTH_ERR" and r.errors == [WRONG], r
    r = pam.run("svc", enrolled, [totp_code(enrolled.secret)])
    assert r.result == "PAM_SUCCESS", r


def test_a_bare_flag_on_the_line_turns_on_what_the_file_leaves_off(pam, users, conf):
    c = conf("nullok=no\n")
    pam.probe("probe", f"config={c} nullok")
    r = pam.run("probe", users.make(), [])
    assert r.verdict == "PAM_IGNORE", r


# --------------------------------------------------------------------------
# A bad file denies every login, even with the right code


@pytest.mark.parametrize("text, line, reason", [
    ("# site settings\nwindow=1\nwindw=2\n", 3, "unknown key 'windw'"),
    ("max_failures=3\n\n# again\nmax_failures=3\n", 4, "key 'max_failures' is given twice (first on line 1)"),
    ("window=11\n", 1, "window must be a whole number from 0 to 10 (got '11')"),
    ("store=/var/lib/twostep/%u\nnullok\n", 2, "'nullok' needs a value: nullok=yes or nullok=no"),
    ("store /var/lib/twostep/%u\n", 1, "no '=' (lines are key=value)"),
    ("config=/etc/other.conf\n", 1, "'config' is a pam.d option, not a key of this file"),
    ("window=1\r\n", 1, "a carriage return"),
    ("# fleet\nbackend=postgresql\n", 2, "backend=postgresql needs database=URI"),
    ("database=postgresql://twostep:hunter2@db/twostep\n", 1, "database must not hold a password"),
])
def test_a_bad_line_denies_and_is_logged_with_its_line(pam, enrolled, conf, text, line, reason):
    c = conf(text)
    pam.service("svc", f"config={c} nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert_configuration_error(r, f"{c}:{line}: {reason}")
    assert not any("hunter2" in m for m in r.syslog), r.syslog
    assert failure_count(enrolled.read_factors()) == 0, "no code was checked"


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666, 0o620])
def test_a_file_writable_by_group_or_others_denies(pam, enrolled, conf, mode):
    c = conf("window=1\n", mode=mode)
    pam.service("svc", f"config={c} nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert_configuration_error(r, f"{c}: it is writable by group or others (mode {mode:o})")


def test_a_file_not_owned_by_root_denies(pam, enrolled, conf):
    c = conf("window=1\n", owner=enrolled.uid)
    pam.service("svc", f"config={c} nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert_configuration_error(r, f"{c}: it is owned by uid {enrolled.uid}, not by root")


def test_a_link_to_a_bad_file_denies(pam, enrolled, conf):
    real = conf("window=1\n", name="real.conf", owner=enrolled.uid)
    link = real.replace("real.conf", "twostep.conf")
    os.symlink(real, link)
    pam.service("svc", f"config={link}")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert_configuration_error(r, f"{link}: it is owned by uid {enrolled.uid}, not by root")


def test_a_dangling_link_denies(pam, enrolled, conf, tmp_path):
    link = str(tmp_path / "twostep.conf")
    os.symlink(str(tmp_path / "gone.conf"), link)
    pam.service("svc", f"config={link} nullok")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert_configuration_error(r, f"{link}: it is a symbolic link to a file that does not exist")


@pytest.mark.parametrize("kind", ["directory", "fifo", "too large"])
def test_not_a_small_regular_file_denies(pam, enrolled, conf, tmp_path, kind):
    if kind == "directory":
        c, reason = str(tmp_path / "etc-dir"), "it is not a regular file"
        os.mkdir(c, 0o755)
    elif kind == "fifo":
        c, reason = str(tmp_path / "fifo.conf"), "it is not a regular file"
        os.mkfifo(c, 0o644)
    else:
        c, reason = conf("#" * 65536 + "\n"), "it is larger than 65536 bytes"
    pam.service("svc", f"config={c}")
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True, timeout=20)
    assert_configuration_error(r, f"{c}: {reason}")


def test_the_file_is_read_at_every_login(pam, enrolled, conf):
    c = conf("windw=1\n")
    pam.service("svc", f"config={c}")
    assert pam.run("svc", enrolled, [code_for(enrolled)]).result == "PAM_SERVICE_ERR"
    conf("window=1\n")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r


# --------------------------------------------------------------------------
# config= and the other new options on the pam.d line


@pytest.mark.parametrize("options, logged", [
    ("config=relative.conf", "config must be an absolute file (got 'relative.conf')"),
    ("config=/a.conf config=/b.conf", "option 'config' is given twice"),
    ("config", "option 'config' needs a value"),
    ("backend=file", "'backend' is a key of twostep.conf, not a module option"),
    ("self_enroll=no", "'self_enroll' is a key of twostep.conf, not a module option"),
    ("socket_dir=run/twostep", "socket_dir must be an absolute directory"),
    ("nullok=yes", "option 'nullok' takes no value on a pam.d line"),
])
def test_bad_new_options_fail_closed(pam, enrolled, options, logged):
    pam.service("svc", options)
    r = pam.run("svc", enrolled, [code_for(enrolled)], wrapper=True)
    assert r.result == "PAM_SERVICE_ERR" and r.prompts == [], r
    assert any("configuration error in the pam.d line" in m and logged in m for m in r.syslog), r.syslog


def test_socket_dir_on_the_line_is_accepted(pam, enrolled):
    pam.service("svc", "socket_dir=/run/twostep-test")
    r = pam.run("svc", enrolled, [code_for(enrolled)])
    assert r.result == "PAM_SUCCESS", r
