#!/usr/bin/env bash
# sshd.sh — run a private OpenSSH server on loopback for twostep's
# integration tests. Source it for the functions, or run it as a command:
#
#   . Tests/Integration/sshd.sh
#   SSHD_PORT=2222 SSHD_PAM_STACK=my-stack sshd_start   # sets SSHD_DIR, SSHD_PID
#   ...                                                  # log in on 127.0.0.1:2222
#   sshd_stop
#
#   eval "$(Tests/Integration/sshd.sh start)"   # prints SSHD_DIR=... SSHD_PID=...
#   Tests/Integration/sshd.sh stop "$SSHD_DIR"
#
# Environment (all optional):
#   SSHD_PORT        port on 127.0.0.1                      (default 2222)
#   SSHD_SERVICE     PAM service name sshd will use          (default twostep-it)
#   SSHD_PAM_STACK   file whose content becomes /etc/pam.d/$SSHD_SERVICE
#                    (default: pam_unix auth/account, pam_permit session)
#   SSHD_AUTH        kbdint      AuthenticationMethods keyboard-interactive
#                    key+kbdint  AuthenticationMethods publickey,keyboard-interactive
#                                plus ExposeAuthInfo yes   (default kbdint)
#   SSHD_EXTRA       extra sshd_config lines (newline separated), appended
#   SSHD_LOGLEVEL    sshd LogLevel                           (default VERBOSE)
#   SSHD_DIR         working dir (config, host key, log, pid) (default mktemp)
#
# The PAM service name. OpenSSH 9.2 (Debian 12) has no PAMServiceName option
# ("Bad configuration option": it only arrived in OpenSSH 10.0); sshd calls
# pam_start() with its own program name (__progname, i.e. the basename of
# argv[0]). So sshd_start runs sshd through a symlink named after
# $SSHD_SERVICE ($SSHD_DIR/bin/$SSHD_SERVICE -> /usr/sbin/sshd) and writes
# the test stack to /etc/pam.d/$SSHD_SERVICE (removed by sshd_stop). The
# system's /etc/pam.d/sshd is never touched, and the system sshd (if any)
# keeps running. The symlink name also shows up as the syslog ident.
#
# Needs root (sshd privilege separation, /etc/pam.d). /run/sshd (the
# privilege-separation directory, normally made by the systemd unit) is
# created when missing.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

_sshd_default_stack() {
    cat <<'EOF'
# twostep integration test stack (written by Tests/Integration/sshd.sh)
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_permit.so
password required pam_deny.so
EOF
}

_sshd_write_config() {
    local dir=$1 port=$2 auth=$3
    {
        echo "Port $port"
        echo "ListenAddress 127.0.0.1"
        echo "HostKey $dir/ssh_host_ed25519_key"
        echo "PidFile $dir/sshd.pid"
        echo "LogLevel ${SSHD_LOGLEVEL:-VERBOSE}"
        echo "UsePAM yes"
        echo "KbdInteractiveAuthentication yes"
        echo "PasswordAuthentication no"
        echo "PermitRootLogin no"
        echo "UseDNS no"
        echo "PrintMotd no"
        echo "PrintLastLog no"
        echo "LoginGraceTime 30"
        echo "MaxAuthTries 6"
        echo "AuthorizedKeysFile .ssh/authorized_keys"
        case $auth in
        kbdint)
            echo "PubkeyAuthentication no"
            echo "AuthenticationMethods keyboard-interactive"
            ;;
        key+kbdint)
            echo "PubkeyAuthentication yes"
            echo "AuthenticationMethods publickey,keyboard-interactive"
            echo "ExposeAuthInfo yes"
            ;;
        *)
            echo "sshd.sh: unknown SSHD_AUTH '$auth'" >&2
            return 1
            ;;
        esac
        if [ -n "${SSHD_EXTRA:-}" ]; then
            printf '%s\n' "$SSHD_EXTRA"
        fi
    } >"$dir/sshd_config"
}

_sshd_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# sshd_start: start sshd in the background; sets SSHD_DIR, SSHD_PID,
# SSHD_LOG, SSHD_PORT, SSHD_SERVICE. Returns non-zero (and prints the log)
# when sshd does not come up within 10 s.
sshd_start() {
    SSHD_PORT=${SSHD_PORT:-2222}
    SSHD_SERVICE=${SSHD_SERVICE:-twostep-it}
    local auth=${SSHD_AUTH:-kbdint}
    case $SSHD_SERVICE in
    sshd | */* | '' | .*)
        echo "sshd.sh: refusing PAM service name '$SSHD_SERVICE'" >&2
        return 1
        ;;
    esac
    if [ -e "/etc/pam.d/$SSHD_SERVICE" ] && ! grep -q 'Tests/Integration/sshd.sh' "/etc/pam.d/$SSHD_SERVICE"; then
        echo "sshd.sh: /etc/pam.d/$SSHD_SERVICE exists and is not ours" >&2
        return 1
    fi
    if _sshd_port_open "$SSHD_PORT"; then
        echo "sshd.sh: 127.0.0.1:$SSHD_PORT is already in use" >&2
        return 1
    fi
    SSHD_DIR=${SSHD_DIR:-$(mktemp -d /tmp/twostep-sshd.XXXXXX)}
    mkdir -p "$SSHD_DIR/bin"
    chmod 755 "$SSHD_DIR"
    SSHD_LOG=$SSHD_DIR/sshd.log
    mkdir -p /run/sshd && chmod 755 /run/sshd

    [ -f "$SSHD_DIR/ssh_host_ed25519_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C twostep-it-host -f "$SSHD_DIR/ssh_host_ed25519_key" || return 1
    _sshd_write_config "$SSHD_DIR" "$SSHD_PORT" "$auth" || return 1

    # The PAM stack: header line marks the file as ours (see the check above).
    {
        echo "# Tests/Integration/sshd.sh test stack for $SSHD_DIR"
        if [ -n "${SSHD_PAM_STACK:-}" ]; then cat "$SSHD_PAM_STACK"; else _sshd_default_stack; fi
    } >"/etc/pam.d/$SSHD_SERVICE"
    echo "$SSHD_SERVICE" >"$SSHD_DIR/service"

    ln -sf "$SSHD_BIN" "$SSHD_DIR/bin/$SSHD_SERVICE"
    "$SSHD_DIR/bin/$SSHD_SERVICE" -t -f "$SSHD_DIR/sshd_config" || return 1
    # -D: stay in the foreground (we background it); -e: log to stderr.
    # sshd must be started with an absolute path (it re-executes itself).
    "$SSHD_DIR/bin/$SSHD_SERVICE" -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_LOG" 2>&1 </dev/null &
    SSHD_PID=$!
    echo "$SSHD_PID" >"$SSHD_DIR/pid"

    local i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$SSHD_PID" 2>/dev/null; then
            echo "sshd.sh: sshd exited; log:" >&2
            cat "$SSHD_LOG" >&2
            return 1
        fi
        if grep -q 'Server listening on' "$SSHD_LOG" 2>/dev/null && _sshd_port_open "$SSHD_PORT"; then
            export SSHD_DIR SSHD_PID SSHD_LOG SSHD_PORT SSHD_SERVICE
            return 0
        fi
        sleep 0.1
    done
    echo "sshd.sh: sshd did not start listening; log:" >&2
    cat "$SSHD_LOG" >&2
    sshd_stop
    return 1
}

# sshd_stop [DIR]: stop the sshd started for DIR (default $SSHD_DIR), remove
# its /etc/pam.d file. Keeps DIR (and its log) unless SSHD_CLEAN=1.
sshd_stop() {
    local dir=${1:-${SSHD_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    local pid svc i
    pid=$(cat "$dir/pid" 2>/dev/null)
    [ -n "$pid" ] || pid=$(cat "$dir/sshd.pid" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        wait "$pid" 2>/dev/null
    fi
    svc=$(cat "$dir/service" 2>/dev/null)
    if [ -n "$svc" ] && [ -f "/etc/pam.d/$svc" ] && grep -q "sshd.sh test stack for $dir\$" "/etc/pam.d/$svc"; then
        rm -f "/etc/pam.d/$svc"
    fi
    rm -f "$dir/pid"
    if [ "${SSHD_CLEAN:-0}" = 1 ]; then
        rm -rf "$dir"
    fi
    return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    case ${1:-} in
    start)
        sshd_start || exit 1
        printf 'SSHD_DIR=%q SSHD_PID=%q SSHD_PORT=%q SSHD_SERVICE=%q SSHD_LOG=%q\n' \
            "$SSHD_DIR" "$SSHD_PID" "$SSHD_PORT" "$SSHD_SERVICE" "$SSHD_LOG"
        ;;
    stop)
        sshd_stop "${2:-${SSHD_DIR:-}}"
        ;;
    *)
        echo "usage: $0 start | stop DIR   (see the header for the environment)" >&2
        exit 2
        ;;
    esac
fi
