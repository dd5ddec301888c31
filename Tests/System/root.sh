# Tests/System/root.sh — the cached Debian 12 root with systemd, and
# systemd-nspawn taken from the systemd-container .deb of the same archive
# (never installed on the machine: that would upgrade its systemd and re-run
# pam-auth-update over /etc/pam.d). Sourced by Tests/System/system-test.
#
# system_root_ready sets ROOT (an unpacked root, never written to: every
# container boots it with --volatile=overlay) and NSPAWN (the command).

: "${TWOSTEP_TEST_CACHE:=/var/cache/twostep-test}"
: "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"
SYSTEM_SUITE=bookworm
# Everything the package and the tests need, since the containers have no
# network: the .deb's Depends (debian/control: libpam-runtime, and what
# dpkg-shlibdeps finds: libc6, libnettle8, libqrencode4, libpam0g), systemd
# and its logind (libpam-systemd, dbus) for real sessions under ssh.service,
# openssh, sudo, oathtool and pamtester for codes and logins, python3 and
# curl for the HTTP gateway stub, PostgreSQL 15 for fleet mode.
SYSTEM_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,libpam-runtime,libpam-modules,libnettle8,libqrencode4,openssh-server,openssh-client,sudo,oathtool,pamtester,python3,curl,iproute2,procps,less,postgresql-15,postgresql-client-15
SYSTEM_KEY=$(printf '%s\n' "$SYSTEM_SUITE" "$SYSTEM_PACKAGES" "v1" | sha256sum | cut -c1-12)
SYSTEM_TARBALL=$TWOSTEP_TEST_CACHE/$SYSTEM_SUITE-systemd-$SYSTEM_KEY.tar.gz

# Makes the tarball (debootstrap; and systemd-container downloaded by the
# root's own apt, so nspawn matches the root's libsystemd-shared, unpacked in
# /opt/twostep-nspawn of the root), once.
system_root_build() {
    local stage
    stage=$(mktemp -d /var/tmp/twostep-system-root.XXXXXX)
    echo "# debootstrap --variant=minbase $SYSTEM_SUITE from $DEBIAN_MIRROR (cached in $SYSTEM_TARBALL afterwards)"
    mkdir -p "$TWOSTEP_TEST_CACHE"
    if ! debootstrap --variant=minbase --include="$SYSTEM_PACKAGES" "$SYSTEM_SUITE" "$stage" "$DEBIAN_MIRROR" \
            >"$stage.log" 2>&1; then
        tail -20 "$stage.log" >&2; rm -rf --one-file-system "$stage"; return 1
    fi
    cp /etc/resolv.conf "$stage/etc/resolv.conf"
    if ! chroot "$stage" sh -c 'cd /tmp && apt-get download -q systemd-container' >>"$stage.log" 2>&1; then
        tail -20 "$stage.log" >&2; rm -rf --one-file-system "$stage"; return 1
    fi
    mkdir -p "$stage/opt/twostep-nspawn"
    dpkg-deb -x "$stage"/tmp/systemd-container_*.deb "$stage/opt/twostep-nspawn"
    rm -f "$stage"/tmp/systemd-container_*.deb "$stage/etc/resolv.conf"
    # The container's identity: a fresh machine-id at every boot, a name.
    : > "$stage/etc/machine-id"
    echo twostep-system > "$stage/etc/hostname"
    # PostgreSQL's cluster is made at install time; it only runs when a
    # test starts it (fleet mode), so every other boot is faster.
    chroot "$stage" systemctl disable -q postgresql.service 2>/dev/null || true
    chroot "$stage" apt-get clean
    rm -rf "$stage"/var/lib/apt/lists/*_Packages "$stage.log"
    chmod 0755 "$stage"
    tar -C "$stage" --numeric-owner -czf "$SYSTEM_TARBALL.tmp" . && mv "$SYSTEM_TARBALL.tmp" "$SYSTEM_TARBALL"
    rm -rf --one-file-system "$stage"
}

# Unpacks the tarball next to it once (a container only reads its root), and
# sets ROOT and NSPAWN.
system_root_ready() {
    ROOT=${SYSTEM_TARBALL%.tar.gz}.root
    if [ ! -s "$SYSTEM_TARBALL" ]; then
        system_root_build || return 1
    fi
    if [ "$(cat "$ROOT.stamp" 2>/dev/null)" != "$(stat -c '%s %Y' "$SYSTEM_TARBALL")" ]; then
        rm -rf --one-file-system "$ROOT" "$ROOT.stamp"
        mkdir -p "$ROOT"
        tar -C "$ROOT" --numeric-owner -xzf "$SYSTEM_TARBALL" || return 1
        stat -c '%s %Y' "$SYSTEM_TARBALL" > "$ROOT.stamp"
    fi
    local lib=$ROOT/usr/lib/x86_64-linux-gnu
    NSPAWN=("$ROOT/lib64/ld-linux-x86-64.so.2" --library-path "$lib/systemd:$lib"
            "$ROOT/opt/twostep-nspawn/usr/bin/systemd-nspawn")
}
