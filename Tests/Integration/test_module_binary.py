"""The built pam_twostep.so as a binary (SPEC §1, DESIGN NOTES): exports,
dependencies, dynamic flags, no Swift toolchain needed at run time,
multi-threaded PAM clients, memory leaks under valgrind."""

import os
import re
import shutil
import subprocess

import pytest

from pamtest import *  # noqa: F401,F403

ENTRY_POINTS = {"pam_sm_authenticate", "pam_sm_setcred", "pam_sm_open_session", "pam_sm_close_session"}
# What the module may link dynamically: system libraries only (no libswift*,
# Foundation, ICU, dispatch).
SYSTEM_LIBS = {"libc.so.6", "libm.so.6", "libpam.so.0", "libnettle.so.8", "libstdc++.so.6",
               "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libdl.so.2", "libpthread.so.0", "librt.so.1"}


def sh(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw).stdout


def test_exports_only_pam_entry_points(module):
    exported = set()
    for line in sh("readelf", "--dyn-syms", "-W", module).splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[0].endswith(":") and f[6] != "UND" and f[4] in ("GLOBAL", "WEAK", "UNIQUE"):
            exported.add(f[7].split("@")[0])
    assert exported == ENTRY_POINTS, f"exported: {sorted(exported)[:20]}"
    nm = {l.split()[-1] for l in sh("nm", "-D", "--defined-only", module).splitlines()
          if len(l.split()) == 3 and l.split()[1].isupper()}
    assert nm == ENTRY_POINTS, sorted(nm)[:20]


def test_dependencies_are_system_libraries(module):
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", sh("readelf", "-d", module)))
    assert "libpam.so.0" in needed and "libc.so.6" in needed
    assert needed <= SYSTEM_LIBS, f"unexpected: {sorted(needed - SYSTEM_LIBS)}"
    out = sh("ldd", module)
    # Nettle, not OpenSSL, not even indirectly: loading and initialising
    # libcrypto.so.3 cost every login ~9 M instructions (BENCHMARKS.md).
    assert "libnettle.so.8" in needed, sorted(needed)
    assert not re.search(r"libcrypto|libssl", out), out
    assert "/opt/swift" not in out, out
    assert "not found" not in out, out
    assert not re.search(r"libswift|Foundation|libicu|libdispatch|BlocksRuntime", out), out


def test_no_rpath_and_nodelete(module):
    dyn = sh("readelf", "-d", module)
    assert "(RPATH)" not in dyn and "(RUNPATH)" not in dyn, dyn
    flags1 = [l for l in dyn.splitlines() if "(FLAGS_1)" in l]
    assert flags1 and "NODELETE" in flags1[0], dyn


def test_relro(module):
    """The relocated data (GOT, Swift metadata pointers) is read-only once
    loaded: a PT_GNU_RELRO segment (lintian's hardening-no-relro)."""
    segments = sh("readelf", "-l", "-W", module)
    assert re.search(r"^\s*GNU_RELRO\s", segments, re.M), segments


def test_small_and_stripped(module):
    """No Foundation / swift-crypto in the module (DESIGN NOTES: ~6 MB with
    the static stdlib alone, 13.6 MB with FoundationEssentials)."""
    size = os.path.getsize(module)
    assert size < 11 * 2**20, f"{size} bytes: Foundation linked in?"
    assert ".symtab" not in sh("readelf", "-S", "-W", module), "not stripped"


def test_authenticates_without_opt_swift(pam, users, pamdriver):
    if not os.path.isdir("/opt/swift"):
        pytest.skip("no /opt/swift on this machine: nothing to hide")
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret)))
    pam.service("svc")
    code = fresh_code(secret, u.read_factors())
    args = " ".join(f"'{a}'" for a in [pamdriver, "--confdir", pam.dir, "--service", "svc",
                                        "--user", u.name, "--answer", code, "--no-delay"])
    script = f"mount -t tmpfs none /opt/swift && test -z \"$(ls -A /opt/swift)\" && echo HIDDEN && {args}"
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert "HIDDEN" in p.stdout, p.stdout + p.stderr
    assert "RESULT: PAM_SUCCESS" in p.stdout and p.returncode == 0, p.stdout + p.stderr
    assert "last-step=" in u.read_factors()


def test_loading_reads_no_process_maps(pam, users, tmp_path):
    """The static Swift runtime's argv grabber (a constructor that reads
    /proc/self/maps in every process that loads the module) is left out:
    a whole login opens no /proc/self/maps (BENCHMARKS.md, row 17)."""
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret)))
    pam.service("svc")
    args = pam.run("svc", u, [wrong_code(secret)], expect="PAM_AUTH_ERR").args
    trace = tmp_path / "trace"
    p = subprocess.run(["strace", "-f", "-e", "trace=openat,open", "-o", str(trace)] + args,
                       capture_output=True, text=True, timeout=60)
    assert "RESULT: PAM_AUTH_ERR" in p.stdout, p.stdout + p.stderr
    opened = trace.read_text()
    assert "libpam_twostep.so" in opened or "pam_twostep" in opened, "the module was not loaded"
    assert "/proc/self/maps" not in opened, [l for l in opened.splitlines() if "/proc/self" in l]


def test_threads_nullok(pam, users, pamdriver):
    """8 threads x 500 start/authenticate/end cycles, each loading the module
    path (nullok, no file: PAM_IGNORE, see PAM.probe) - no crash, every
    result as expected."""
    u = users.make()
    pam.probe("probe", "nullok")
    r = pam.run("probe", u, extra=["--threads", "8", "--cycles", "500"], timeout=120)
    assert r.rc == 0, str(r)[-3000:]
    assert r.texts("SUMMARY") == ["4000 of 4000 as expected"], r.texts("SUMMARY")
    assert r.results.count("PAM_SUCCESS") == 4000
    assert r.infos.count(IGNORE_MARKER) == 4000, "every cycle must be the module's PAM_IGNORE"


def test_threads_reuse_handles(pam, users):
    u = users.make()
    pam.probe("probe", "nullok")
    r = pam.run("probe", u, extra=["--threads", "4", "--cycles", "200", "--reuse"], timeout=120)
    assert r.rc == 0 and r.texts("SUMMARY") == ["800 of 800 as expected"], str(r)[-3000:]
    assert r.infos.count(IGNORE_MARKER) == 800


def test_threads_wrong_codes_no_lost_update(pam, users):
    """8 threads x 60 wrong codes on one user's file: every one is counted
    (the lock is held from read to rename), the file stays the user's."""
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret)))
    pam.service("svc", "max_failures=1000")
    r = pam.run("svc", u, [wrong_code(secret)], expect="PAM_AUTH_ERR",
                extra=["--threads", "8", "--cycles", "60"], timeout=150)
    assert r.rc == 0 and r.texts("SUMMARY") == ["480 of 480 as expected"], str(r)[-3000:]
    others = [e for e in r.errors if e != "Wrong code."]
    assert others == [], (f"{len(others)} of 480 concurrent logins were refused for another reason "
                          f"than the code (see test_file_replaced_while_opened): {others[:1]}")
    assert failure_count(u.read_factors()) == 480
    st = os.stat(u.factor_path)
    assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)
    assert [n for n in os.listdir(u.home) if n.startswith(".twostep.")] == []


def valgrind(pam, service, user, answers=(), cycles=50, rhost=None):
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is not installed (make test-deps)")
    args = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=9",
            pam.pamdriver, "--confdir", pam.dir, "--service", service, "--user", user.name,
            "--no-delay", "--quiet", "--cycles", str(cycles)]
    for a in answers:
        args += ["--answer", a]
    if rhost:
        args += ["--rhost", rhost]
    p = subprocess.run(args, capture_output=True, text=True, timeout=150)
    summary = re.search(r"definitely lost: ([\d,]+) bytes", p.stderr)
    no_leaks = "All heap blocks were freed" in p.stderr
    assert summary or no_leaks, p.stderr[-3000:]
    assert no_leaks or summary.group(1) == "0", p.stderr[-5000:]
    assert "ERROR SUMMARY: 0 errors" in p.stderr, p.stderr[-5000:]
    assert p.returncode != 9, p.stderr[-5000:]
    return p


def test_valgrind_nullok(pam, users):
    u = users.make()
    pam.probe("probe", "nullok")
    p = valgrind(pam, "probe", u)
    assert p.returncode == 0 and p.stdout.count("PAM_SUCCESS") == 50, p.stdout[-2000:]


def test_valgrind_wrong_codes_and_trusted_device(pam, users):
    """The verify-and-write path (wrong codes) and the trusted-device path."""
    u = users.make()
    secret = new_secret()
    u.write_factors(factor_text(totp_line(secret), backup_line(new_backup_code()),
                                trust_line(service="svc", rhost="192.0.2.7")))
    pam.service("svc", "max_failures=1000")
    p = valgrind(pam, "svc", u, [wrong_code(secret)], cycles=30)
    assert p.stdout.count("RESULT: PAM_AUTH_ERR") == 30, p.stdout[-2000:]
    p = valgrind(pam, "svc", u, cycles=30, rhost="192.0.2.7")
    assert p.returncode == 0 and p.stdout.count("RESULT: PAM_SUCCESS") == 30, p.stdout[-2000:]
