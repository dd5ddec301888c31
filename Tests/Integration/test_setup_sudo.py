"""`twostep setup sudo` (SPEC §12) and the per-target state of `twostep
setup`: the sudo target's edits of /etc/pam.d/sudo and /etc/pam.d/sshd, its
refusals, its own state, copies and undo timer, `--undo/--confirm/--status
[sshd|sudo]`, and that undoing one target never drops the other's lines.
Against test_setup.py's Machine rig (a private mount namespace with the
test's own /etc/pam.d and /var/lib, and a real sshd).

The module does not need to accept `recent=` or `remember_session` here:
no test logs in through the edited stacks (root's sudo asks no password,
so sudo's auth stack does not run for the confirmation)."""

import os
import re
import signal
import subprocess
import time

import pytest

from pamtest import *  # noqa: F401,F403
from test_setup import STATE_DIRS, machine, wait_for  # noqa: F401 (machine is a fixture)

SESSION_MARKER = "# twostep setup sudo: the line after pam_loginuid"


def lines(m, relative):
    return m.read(relative).splitlines()


def without(text_lines, *removed):
    """The lines but those in `removed` (each at most once, the first one)."""
    rest = list(text_lines)
    for line in removed:
        rest.remove(line)
    return rest


def sudo_edits(m, before, recent=900):
    """Asserts /etc/pam.d/sudo and /etc/pam.d/sshd hold setup sudo's edits
    and nothing else changed (`before`: m.exact() before setup sudo, maybe
    after setup sshd)."""
    sudo = lines(m, "etc/pam.d/sudo")
    at = sudo.index("@include common-auth")
    assert sudo[at + 1].startswith("# twostep setup sudo --recent"), sudo
    assert sudo[at + 2] == f"auth required {m.module} recent={recent}", sudo
    assert without(sudo, sudo[at + 1], sudo[at + 2]) == before["etc/pam.d/sudo"][0].decode().splitlines()

    sshd = lines(m, "etc/pam.d/sshd")
    loginuid = [i for i, line in enumerate(sshd) if re.match(r"session\s+required\s+pam_loginuid\.so$", line)]
    assert len(loginuid) == 1, sshd
    assert sshd[loginuid[0] + 1] == f"session optional {m.module}", sshd
    assert sshd[loginuid[0] - 1].startswith(SESSION_MARKER), sshd
    old = before["etc/pam.d/sshd"][0].decode().splitlines()
    auth = [line for line in old if line.startswith(f"auth required {m.module}")]
    changed = without(sshd, sshd[loginuid[0] + 1], sshd[loginuid[0] - 1])
    for line in auth:  # sshd's auth line: remember_session added
        changed[changed.index(line + " remember_session")] = line
    assert changed == old


def test_setup_sudo_writes_three_edits_replaces_and_undoes(machine):
    """No pam_twostep auth line in sshd's stack yet: the sudo line and the
    session line are written, with a note; run again with another
    --recent, replaced in one step; --undo sudo: byte for byte."""
    m = machine().start()
    before = m.exact()
    p = m.setup("sudo")
    assert p.returncode == 0, p
    assert "sudo twostep setup --confirm sudo" in p.stdout, p
    assert "asks for a code every time" in p.stderr and "twostep setup sshd" in p.stderr, p
    sudo_edits(m, before)
    for name in ("etc/ssh/sshd_config", "etc/ssh/sshd_config.d/twostep.conf", "etc/pam.d/common-auth"):
        assert m.exact()[name] == before[name]
    assert m.state() is None and "target sudo" in m.state("sudo") and "recent 900" in m.state("sudo")
    assert m.setup("sudo").returncode == 2  # the same options: nothing to do

    p = m.setup("sudo", "--recent", "60")
    assert p.returncode == 0 and "is replaced" in p.stdout, p
    sudo_edits(m, before, recent=60)
    assert "recent 60" in m.state("sudo")

    u = m.setup("--undo")  # the only target set up
    assert u.returncode == 0, u
    assert m.exact() == before
    assert m.state("sudo") is None
    assert m.setup("--undo").returncode == 2


@pytest.mark.parametrize("bad", ["--recent=0", "--recent=3601", "--timeout=0"])
def test_setup_sudo_option_limits(machine, bad):
    m = machine().start()
    p = m.run([m.twostep, "setup", "sudo", bad, "--module", m.module])
    assert p.returncode == 2, p


def test_refused_when_common_auth_runs_twostep(machine):
    m = machine()
    m.write("etc/pam.d/common-auth", m.read("etc/pam.d/common-auth") + f"auth required {m.module}\n")
    m.start()
    states = m.states()
    p = m.setup("sudo")
    assert p.returncode == 1, p
    assert "/etc/pam.d/common-auth line 4 runs pam_twostep" in p.stderr and "twice" in p.stderr, p
    assert "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state("sudo") is None


def test_refused_without_pam_loginuid_or_common_auth(machine):
    m = machine()
    m.write("etc/pam.d/sshd", "".join(line for line in m.read("etc/pam.d/sshd").splitlines(True) if "pam_loginuid" not in line))
    m.start()
    states = m.states()
    p = m.setup("sudo")
    assert p.returncode == 3, p
    assert "pam_loginuid" in p.stderr and "step-up needs it" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state("sudo") is None

    m.write("etc/pam.d/sudo", m.read("etc/pam.d/sudo").replace("@include common-auth\n", ""))
    states = m.states()
    p = m.setup("sudo")
    assert p.returncode == 1, p
    assert "no '@include common-auth'" in p.stderr and "Add the line '@include common-auth'" in p.stderr, p
    assert m.states() == states and m.state("sudo") is None


def test_undo_sudo_after_sshd_keeps_sshd_auth_line(machine):
    """setup sshd, then setup sudo (remember_session on sshd's line): both
    set up, a bare --undo is refused naming both; --undo sudo leaves
    exactly sshd's set-up; --undo sshd then the files as they were."""
    m = machine().start()
    before = m.exact()
    assert m.setup("sshd", "--method", "password").returncode == 0
    after_sshd = m.exact()
    p = m.setup("sudo")
    assert p.returncode == 0, p
    assert "asks for a code every time" not in p.stderr, p
    sudo_edits(m, after_sshd)
    assert f"auth required {m.module} nullok remember_session" in lines(m, "etc/pam.d/sshd")

    for action in ("--undo", "--confirm"):
        p = m.setup(action)
        assert p.returncode == 2, p
        assert "sshd (pending) and sudo (pending)" in p.stderr, p
        assert f"'twostep setup {action} sshd' or 'twostep setup {action} sudo'" in p.stderr, p

    u = m.setup("--undo", "sudo")
    assert u.returncode == 0, u
    assert "those of 'twostep setup sshd' stay" in u.stdout, u
    assert m.exact() == after_sshd  # byte for byte: sshd's auth line, no sudo line
    assert m.state() is not None and m.state("sudo") is None
    u = m.setup("--undo")  # now the only one
    assert u.returncode == 0, u
    assert m.exact() == before


def test_undo_sshd_after_sudo_keeps_session_line(machine):
    """setup sudo, then setup sshd (which writes remember_session on its line
    while sudo is set up); --undo sshd leaves exactly sudo's set-up."""
    m = machine().start()
    before = m.exact()
    assert m.setup("sudo").returncode == 0
    after_sudo = m.exact()
    p = m.setup("sshd", "--method", "password")
    assert p.returncode == 0, p
    sshd = lines(m, "etc/pam.d/sshd")
    assert f"auth required {m.module} nullok remember_session" in sshd, sshd
    assert sshd.count(f"session optional {m.module}") == 1, sshd
    assert m.exact()["etc/pam.d/sudo"] == after_sudo["etc/pam.d/sudo"]

    # Replacing sshd's set-up keeps sudo's lines and the token.
    p = m.setup("sshd", "--method", "password", "--enforce", "--force")
    assert p.returncode == 0, p
    sshd = lines(m, "etc/pam.d/sshd")
    assert f"auth required {m.module} remember_session" in sshd and sshd.count(f"session optional {m.module}") == 1, sshd

    u = m.setup("--undo", "sshd")
    assert u.returncode == 0, u
    assert m.exact() == after_sudo
    assert m.state() is None and m.state("sudo") is not None
    assert m.setup("--undo", "sudo").returncode == 0
    assert m.exact() == before


@pytest.mark.parametrize("expiring", ["sudo", "sshd"])
def test_both_pending_two_timers_expiry_undoes_its_own(machine, expiring):
    m = machine().start()
    before = m.exact()
    keep = "sshd" if expiring == "sudo" else "sudo"
    timeouts = {expiring: 4, keep: 120}
    p = m.setup("sshd", "--method", "password", timeout=timeouts["sshd"])
    assert p.returncode == 0, p
    after_sshd = m.exact()
    p = m.setup("sudo", timeout=timeouts["sudo"])
    assert p.returncode == 0, p
    both = m.exact()
    pids = {t: int(re.search(r"^timer process (\d+) ", m.state(t), re.M).group(1)) for t in ("sshd", "sudo")}
    assert pids["sshd"] != pids["sudo"]
    s = m.setup("--status")
    assert s.returncode == 0, s
    assert s.stdout.count("Pending: not confirmed yet") == 2, s
    for t in ("sshd", "sudo"):
        assert f"undo timer: process {pids[t]}, its log /{STATE_DIRS[t]}/timer.log" in s.stdout, s

    assert wait_for(lambda: m.state(expiring) is None, 30), m.timer_log(expiring)
    assert "Not confirmed in time" in m.timer_log(expiring)
    assert m.state(keep) is not None and "phase pending" in m.state(keep)
    assert os.path.exists(f"/proc/{pids[keep]}")
    # What is left is exactly the other target's set-up made on the old files.
    if keep == "sshd":
        assert m.exact() == after_sshd
    else:
        assert m.exact()["etc/pam.d/sudo"] == both["etc/pam.d/sudo"]
        assert m.exact()["etc/ssh/sshd_config.d/twostep.conf"] is None
        assert f"session optional {m.module}" in lines(m, "etc/pam.d/sshd")
        assert "pam_twostep" not in "".join(l for l in lines(m, "etc/pam.d/sshd") if l.startswith("auth"))
    assert m.setup("--undo").returncode == 0  # the only one left
    assert m.exact() == before


def test_confirm_sudo_only_below_a_new_sudo(machine):
    m = machine().start()
    assert m.run(["sudo", "-n", "true"]).returncode == 0, "sudo does not work for root in the namespace"
    # A sudo started before setup sudo: it read the old /etc/pam.d/sudo.
    old = subprocess.Popen(m.enter(["sudo", "-n", "sh", "-c", f"sleep 4; exec {m.twostep} setup --confirm sudo"]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert m.setup("sshd", "--method", "password").returncode == 0
    assert m.setup("sudo").returncode == 0
    out, err = old.communicate(timeout=60)
    assert old.returncode == 1 and "was started before setup" in err, err

    c = m.setup("--confirm", "sudo")  # no sudo above it
    assert c.returncode == 1, c
    assert "run it as: sudo twostep setup --confirm sudo, from a login" in c.stderr, c
    assert "phase pending" in m.state("sudo")

    c = m.run(["sudo", "-n", m.twostep, "setup", "--confirm", "sudo"])
    assert c.returncode == 0 and "Confirmed:" in c.stdout, c
    assert "phase confirmed" in m.state("sudo") and "phase pending" in m.state("sshd")
    # A bare --confirm now means sshd, the only one pending (and it needs an ssh login).
    c = m.setup("--confirm")
    assert c.returncode == 1 and "ssh login" in c.stderr, c
    assert m.setup("--undo", "sudo").returncode == 0 and m.setup("--undo", "sshd").returncode == 0


def test_status_per_target(machine):
    m = machine().start()
    s = m.setup("--status", "sudo")
    assert s.returncode == 0 and "has not set up sudo" in s.stdout and "sshd" not in s.stdout, s
    assert m.setup("sshd", "--method", "password").returncode == 0
    assert m.setup("sudo", "--recent", "120").returncode == 0

    s = m.setup("--status", "sudo")
    assert s.returncode == 0, s
    assert "'twostep setup sudo --recent 120'" in s.stdout and "recent=120" in s.stdout, s
    assert "/etc/pam.d/sudo: changed by setup" in s.stdout and "/etc/pam.d/sshd: changed by setup" in s.stdout, s
    assert "Pending: not confirmed yet. Run 'twostep setup --confirm sudo'" in s.stdout, s
    assert "sshd is set up" not in s.stdout and "In force (sshd -T)" not in s.stdout, s

    s = m.setup("--status", "sshd")
    assert s.returncode == 0 and "sshd is set up" in s.stdout and "sudo is set up" not in s.stdout, s
    assert "/etc/pam.d/sshd: changed by setup" in s.stdout and "edited since" not in s.stdout, s

    s = m.setup("--status")
    assert s.returncode == 0 and "sshd is set up" in s.stdout and "sudo is set up" in s.stdout, s


def test_old_single_state_directory_still_undone(machine):
    """A set-up of a version before per-target state: its state has no
    target line, its timer runs 'setup --undo --after-timeout TOKEN' with no
    target. Both still find it (sshd's, in place)."""
    m = machine().start()
    before = m.exact()
    assert m.setup("sshd", "--method", "password", timeout=5).returncode == 0
    state = m.state()
    pid = int(re.search(r"^timer process (\d+) ", state, re.M).group(1))
    os.kill(pid, signal.SIGKILL)  # the old version's timer is replaced by one run as it ran it
    token = re.search(r"^token (\S+)$", state, re.M).group(1)
    with open(m.path("var/lib/twostep-setup/state"), "w") as f:
        f.write(re.sub(r"^(target sshd|timer .*)\n", "", state, flags=re.M))
    assert "target" not in m.state() and "timer" not in m.state()

    s = m.setup("--status")
    assert "sshd is set up" in s.stdout and "the undo timer is not running" in s.stdout, s
    t = m.run([m.twostep, "setup", "--undo", "--after-timeout", token])
    assert t.returncode == 0, t
    assert "Not confirmed in time" in t.stdout, t
    assert m.state() is None and m.exact() == before

    # And undone by hand after an upgrade.
    assert m.setup("sshd", "--method", "password").returncode == 0
    state = m.state()
    with open(m.path("var/lib/twostep-setup/state"), "w") as f:
        f.write(re.sub(r"^target sshd\n", "", state, flags=re.M))
    assert m.setup("--undo").returncode == 0
    assert m.exact() == before


def test_edited_shared_file_kept_aside_and_other_target_kept(machine):
    """/etc/pam.d/sshd edited after both set-ups: setup sudo again refuses
    to change it; --undo sudo keeps the edited file aside (edited-2-TIME in
    sudo's directory) and writes sshd's set-up alone, which sshd's state
    then takes as its own (not 'edited since')."""
    m = machine().start()
    before = m.exact()
    assert m.setup("sshd", "--method", "password").returncode == 0
    after_sshd = m.exact()
    assert m.setup("sudo").returncode == 0
    edited = m.read("etc/pam.d/sshd") + "# a local note\n"
    m.write("etc/pam.d/sshd", edited)

    p = m.setup("sudo", "--recent", "60")
    assert p.returncode == 3 and "edited since 'twostep setup sudo' wrote it" in p.stderr, p
    assert m.read("etc/pam.d/sshd") == edited and "recent 900" in m.state("sudo")

    u = m.setup("--undo", "sudo")
    assert u.returncode == 0, u
    kept = [n for n in os.listdir(m.path(STATE_DIRS["sudo"])) if n.startswith("edited-2-")]
    assert len(kept) == 1 and f"kept as /{STATE_DIRS['sudo']}/{kept[0]}" in u.stdout, u
    assert open(m.path(f"{STATE_DIRS['sudo']}/{kept[0]}")).read() == edited
    assert m.exact() == after_sshd
    s = m.setup("--status", "sshd")
    assert "edited since" not in s.stdout, s
    assert m.setup("--undo").returncode == 0
    assert m.exact() == before


def test_setup_sudo_refused_when_sshd_file_edited_since_setup_sshd(machine):
    m = machine().start()
    assert m.setup("sshd", "--method", "password").returncode == 0
    m.write("etc/pam.d/sshd", m.read("etc/pam.d/sshd") + "# a local note\n")
    states = m.states()
    p = m.setup("sudo")
    assert p.returncode == 3, p
    assert "edited since 'twostep setup sshd' wrote it" in p.stderr and "Nothing was changed" in p.stderr, p
    assert m.states() == states and m.state("sudo") is None
    assert m.setup("--undo").returncode == 0
