#!/usr/bin/env bash
# selftest.sh — checks the integration harness itself, without twostep:
# pamdriver against pam_permit/pam_deny/pam_unix (real /etc/pam.d file,
# --confdir, pam_wrapper), and sshd.sh + ssh_login.py with pam_unix over a
# real OpenSSH server on loopback. Needs root. Cleans up after itself
# (test user, /etc/pam.d files, sshd). Prints "N passed, N failed".
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d /tmp/twostep-selftest.XXXXXX)
chmod 755 "$WORK"
TUSER=twostep-it1
TPASS='Secr3t-pw'
PORT=${SSHD_PORT:-2222}
pass=0
fail=0

check() { # check NAME CMD...   (passes when CMD exits 0)
    local name=$1
    shift
    if "$@" >"$WORK/last.out" 2>&1; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name"
        sed 's/^/     | /' "$WORK/last.out"
    fi
}
not() { ! "$@"; }

. "$HERE/sshd.sh"
cleanup() {
    sshd_stop 2>/dev/null
    rm -f /etc/pam.d/twostep-selftest
    id "$TUSER" >/dev/null 2>&1 && userdel -r "$TUSER" 2>/dev/null
    rm -rf "$WORK" "${SSHD_DIR:-/nonexistent}"
}
trap cleanup EXIT

cc -O2 -Wall -Wextra -Werror -o "$WORK/pamdriver" "$HERE/pamdriver.c" -lpam -lpthread || exit 1
PD=$WORK/pamdriver

# --- pamdriver with --confdir
mkdir -p "$WORK/svc"
printf 'auth required pam_permit.so\naccount required pam_permit.so\n' >"$WORK/svc/permit"
printf 'auth required pam_deny.so\n' >"$WORK/svc/deny"
printf 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n' >"$WORK/svc/other"
check "confdir permit" "$PD" --confdir "$WORK/svc" --service permit --user alice --acct
check "confdir deny" not "$PD" --confdir "$WORK/svc" --service deny --user alice
check "confdir deny --expect" "$PD" --confdir "$WORK/svc" --service deny --user alice --expect PAM_AUTH_ERR
check "confdir threads" "$PD" --confdir "$WORK/svc" --service permit --user alice --threads 4 --cycles 25 --quiet
check "confdir reuse" "$PD" --confdir "$WORK/svc" --service permit --user alice --threads 2 --cycles 25 --reuse --quiet

# --- pamdriver under pam_wrapper (absolute module path for pam_matrix)
printf 'alice:secret:matrix\n' >"$WORK/passdb"
printf 'auth required /usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so passdb=%s\n' "$WORK/passdb" >"$WORK/svc/matrix"
pw() { LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$WORK/svc" "$@"; }
check "pam_wrapper permit" pw "$PD" --service permit --user alice
check "pam_wrapper deny" pw "$PD" --service deny --user alice --expect PAM_AUTH_ERR
check "pam_wrapper matrix good" pw "$PD" --service matrix --user alice --answer secret
check "pam_wrapper matrix bad" pw "$PD" --service matrix --user alice --answer wrong --expect PAM_AUTH_ERR
pw "$PD" --service matrix --user alice --answer secret >"$WORK/m.out" 2>&1
check "pam_wrapper prompt line" grep -qx 'PROMPT_ECHO_OFF: Password: ' "$WORK/m.out"
# pam_matrix turns the conversation's PAM_CONV_ERR into PAM_AUTHINFO_UNAVAIL
pw "$PD" --service matrix --user alice >"$WORK/m.out" 2>&1
check "pam_wrapper out of answers" grep -qx 'CONV: out of answers' "$WORK/m.out"

# --- a test user, pam_unix through a real /etc/pam.d file
userdel -r "$TUSER" >/dev/null 2>&1
useradd -m -s /bin/bash "$TUSER" && echo "$TUSER:$TPASS" | chpasswd || exit 1
printf 'auth required pam_unix.so nodelay\naccount required pam_unix.so\n' >/etc/pam.d/twostep-selftest
check "etc pam_unix good" "$PD" --service twostep-selftest --user "$TUSER" --answer "$TPASS" --acct
check "etc pam_unix bad" "$PD" --service twostep-selftest --user "$TUSER" --answer nope --expect PAM_AUTH_ERR
rm -f /etc/pam.d/twostep-selftest

# --- sshd, keyboard-interactive only
cat >"$WORK/envdump.sh" <<EOF
#!/bin/sh
env | sort >"$WORK/pam_env.txt"
EOF
chmod 755 "$WORK/envdump.sh"
printf 'auth required pam_unix.so nodelay\nauth optional pam_exec.so %s\naccount required pam_unix.so\nsession required pam_permit.so\n' \
    "$WORK/envdump.sh" >"$WORK/stack"
sums_before=$(md5sum /etc/pam.d/sshd)
L=$HERE/ssh_login.py
if SSHD_PORT=$PORT SSHD_SERVICE=twostep-selftest SSHD_PAM_STACK=$WORK/stack sshd_start; then
    check "ssh kbdint good (paramiko)" "$L" --port "$PORT" --user "$TUSER" --password "$TPASS"
    check "ssh kbdint bad (paramiko)" not "$L" --port "$PORT" --user "$TUSER" --password wrong
    check "ssh kbdint good (openssh)" "$L" --client openssh --port "$PORT" --user "$TUSER" --password "$TPASS"
    check "ssh kbdint bad (openssh)" not "$L" --client openssh --port "$PORT" --user "$TUSER" --password wrong
    check "sshd used our PAM service" grep -qx 'PAM_SERVICE=twostep-selftest' "$WORK/pam_env.txt"
    sshd_stop
    check "sshd_stop removed pam file" test ! -e /etc/pam.d/twostep-selftest
    rm -rf "$SSHD_DIR"
    unset SSHD_DIR
else
    fail=$((fail + 1))
    echo "FAIL sshd_start (kbdint)"
fi

# --- sshd, publickey + keyboard-interactive + ExposeAuthInfo
H=$(getent passwd "$TUSER" | cut -d: -f6)
ssh-keygen -q -t ed25519 -N '' -f "$WORK/userkey" && ssh-keygen -q -t ed25519 -N '' -f "$WORK/otherkey"
install -d -m 700 -o "$TUSER" -g "$TUSER" "$H/.ssh"
install -m 600 -o "$TUSER" -g "$TUSER" "$WORK/userkey.pub" "$H/.ssh/authorized_keys"
if SSHD_PORT=$PORT SSHD_AUTH=key+kbdint SSHD_SERVICE=twostep-selftest SSHD_PAM_STACK=$WORK/stack sshd_start; then
    check "ssh key+kbdint good" "$L" --port "$PORT" --user "$TUSER" --password "$TPASS" --key "$WORK/userkey"
    check "SSH_AUTH_INFO_0 has the key" grep -q "^SSH_AUTH_INFO_0=publickey $(cut -d' ' -f1-2 "$WORK/userkey.pub")" "$WORK/pam_env.txt"
    check "ssh key+kbdint no key" not "$L" --port "$PORT" --user "$TUSER" --password "$TPASS"
    check "ssh key+kbdint other key" not "$L" --port "$PORT" --user "$TUSER" --password "$TPASS" --key "$WORK/otherkey"
    check "ssh key+kbdint good (openssh)" "$L" --client openssh --port "$PORT" --user "$TUSER" --password "$TPASS" --key "$WORK/userkey"
    sshd_stop
else
    fail=$((fail + 1))
    echo "FAIL sshd_start (key+kbdint)"
fi
check "/etc/pam.d/sshd untouched" test "$sums_before" = "$(md5sum /etc/pam.d/sshd)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
