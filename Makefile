# twostep — build, install and test.
#
#   make            build the CLI and pam_twostep.so (release)
#   make install    install apt build dependencies, build, install
#   make test       install test dependencies, run every test (unit + integration)
#   make uninstall  remove what make install installed
#   make man        man pages: twostep(1) from the command definitions
#                   (swift-argument-parser's generate-manual), the rest from man/*.scd
#   make deb        out/libpam-twostep_VERSION_ARCH.deb (checked with lintian)
#   make test-deb   install that .deb into a fresh Debian 12 root and log in

SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
PYTHON ?= python3
PREFIX ?= /usr
DESTDIR ?=
CONFIG ?= release

# What building needs, and what the tests need on top (Debian package names).
# libssl-dev is for bench/pambench.c only (make bench, test_bench_smoke.py):
# it computes its codes with libcrypto, independently of the module's Nettle.
BUILD_DEPS := nettle-dev libpam0g-dev libqrencode-dev pkg-config scdoc dpkg-dev
TEST_DEPS := oathtool pamtester libpam-wrapper openssh-server zbar-tools valgrind \
	libpam-google-authenticator lintian debootstrap libpam-oath libssl-dev strace systemd
PIP_TEST_DEPS := pyotp pytest pexpect paramiko varlink

# The CLI links the Swift runtime and Foundation statically too, so the
# installed /usr/bin/twostep runs without a Swift toolchain; so does twostepd.
SCRATCH ?= .build
BIN := $(SCRATCH)/$(CONFIG)/twostep
DAEMON := $(SCRATCH)/$(CONFIG)/twostepd
CLI_FLAGS := -c $(CONFIG) --scratch-path $(SCRATCH) --static-swift-stdlib --disable-local-rpath -Xlinker -s \
	-Xlinker -zrelro -Xlinker -znow
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PAMDIR ?= /lib/$(MULTIARCH)/security
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
# twostepd's units (packaging/systemd): Debian 12 keeps packaged units in /lib.
SYSTEMDUNITDIR ?= /lib/systemd/system
SYSTEMD_UNITS := twostepd.service twostepd.socket twostepd-login.socket
MANDIR ?= $(PREFIX)/share/man
PAMCONFIGDIR ?= $(PREFIX)/share/pam-configs
CHANNELDIR ?= $(PREFIX)/lib/twostep/channels
DOCDIR ?= $(PREFIX)/share/doc/libpam-twostep
# Channel plugins to install: the executables in channels/, when there are
# any; channels/*.example (templates) go to $(DOCDIR)/examples.
CHANNELS := $(shell find channels -maxdepth 1 -type f -perm -u+x 2>/dev/null | LC_ALL=C sort)
CHANNEL_EXAMPLES := $(wildcard channels/*.example)

# Man pages: twostep.1 from the command definitions, the others from scdoc
# sources; dated by packaging/debian/changelog, so builds are reproducible.
CHANGELOG := packaging/debian/changelog
VERSION = $(shell dpkg-parsechangelog -l $(CHANGELOG) -S Version 2>/dev/null)
export SOURCE_DATE_EPOCH ?= $(shell dpkg-parsechangelog -l $(CHANGELOG) -S Timestamp 2>/dev/null)
MAN_BUILD := .build-man
SCDOC_PAGES := $(patsubst man/%.scd,$(MAN_BUILD)/%.gz,$(wildcard man/*.scd))
MAN_PAGES := $(MAN_BUILD)/twostep.1.gz $(SCDOC_PAGES)
GENERATE_MANUAL := $(SCRATCH)/$(shell uname -m)-unknown-linux-gnu/$(CONFIG)/generate-manual
DEB_STAGE := .build-deb/root
DEB = out/libpam-twostep_$(VERSION)_$(shell dpkg --print-architecture).deb

# pam_twostep.so is loaded into sshd: the Swift runtime is linked statically,
# only pam_sm_* are exported (pam/exports.map), -z nodelete keeps libpam from
# unloading it under a threaded client, -z now binds every symbol at load
# (with RELRO the GOT is then read-only; lintian's hardening-no-bindnow;
# its cost, BENCHMARKS.md row 22), and it is stripped with no RUNPATH.
# Its own scratch path keeps these flags from rebuilding the CLI's objects.
#
# The C targets (CPAMShim, CLinux, CChannelSpawn) are compiled with
# _FORTIFY_SOURCE=2 in release builds by Package.swift's cSettings, not by
# -Xcc here: SwiftPM passes -Xcc (and a toolset's C flags) to swiftc's clang
# importer too, where glibc's fortified inline functions then differ between
# modules (error: 'realpath' has different definitions in different modules).
# The module's unfortified libc calls that lintian counts (read, pread, poll,
# realpath, readlink, getgroups from the Swift code; snprintf, fprintf,
# strcat... from the static Swift runtime) are out of reach of any C flag:
# packaging/debian/lintian-overrides says so for hardening-no-fortify-functions.
MODULE_BUILD := .build-module
MODULE := $(MODULE_BUILD)/release/libpam_twostep.so
#
# STATIC_CXX=1 (the default when the static archives exist) also links
# libstdc++ and libgcc_eh in: two linker scripts named libstdc++.so and
# libgcc_s.so in $(MODULE_BUILD)/static-cxx shadow the shared libraries
# (-Xswiftc -L lands before gcc's own directory). That saves ~1 ms of every
# sshd login (BENCHMARKS.md); the module then needs the build host's glibc
# (2.36 on Debian 12: libstdc++.a uses arc4random), which dpkg-shlibdeps
# records. STATIC_CXX=0 gives the plain build (glibc 2.34+, Ubuntu 22.04).
STATIC_CXX_LIBS := $(shell gcc -print-file-name=libstdc++.a 2>/dev/null) $(shell gcc -print-file-name=libgcc_eh.a 2>/dev/null)
STATIC_CXX ?= $(if $(filter /%,$(firstword $(STATIC_CXX_LIBS))),1,0)
STATIC_CXX_DIR := $(CURDIR)/$(MODULE_BUILD)/static-cxx
#
# PACKED_RELOCS=1 (the default with STATIC_CXX=1, whose glibc floor it
# shares, when the toolchain has ld.lld) links with -z pack-relative-relocs
# (DT_RELR): the ~19,000
# relative relocations of the static Swift runtime take 3 KB instead of
# 460 KB, and every process that loads the module starts ~0.1 ms sooner
# (BENCHMARKS.md). It needs glibc 2.36 (GLIBC_ABI_DT_RELR; build-deb raises
# the package's libc6 floor to match) and the toolchain's lld: its default
# linker, gold, cannot pack them, and GNU ld loses RELRO on this module
# (its writable .rodata comes first in the data segment). lld also places
# the functions a login runs (pam/hot-symbols.txt, bench/order-file.py)
# next to each other: fewer page faults per process.
# (make 4.3 runs $(shell) with the caller's PATH, not the one exported above.)
PACKED_RELOCS ?= $(if $(and $(filter 1,$(STATIC_CXX)),$(shell PATH='$(PATH)' command -v ld.lld)),1,0)
MODULE_FLAGS := -c release --product pam_twostep --scratch-path $(MODULE_BUILD) \
	--disable-local-rpath -Xswiftc -static-stdlib \
	$(if $(filter 1,$(STATIC_CXX)),-Xswiftc -L$(STATIC_CXX_DIR)) \
	$(if $(filter 1,$(PACKED_RELOCS)),-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs \
	  -Xlinker --symbol-ordering-file=$(CURDIR)/pam/hot-symbols.txt -Xlinker --no-warn-symbol-ordering) \
	-Xlinker --version-script=$(CURDIR)/pam/exports.map -Xlinker -znodelete -Xlinker -znow -Xlinker -s

.PHONY: all build module bench deps test-deps install install-files uninstall man deb test-deb test unit-test integration-test clean

all: build

# Installs only what is missing, so repeated runs stay fast and offline.
deps:
	@missing=$$(for p in $(BUILD_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test-deps: deps
	@missing=$$(for p in $(TEST_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(PYTHON) -c 'import pyotp, pytest, pexpect, paramiko, varlink' 2>/dev/null || \
	  $(PYTHON) -m pip install -q --root-user-action=ignore $(PIP_TEST_DEPS)

build: deps module
	$(SWIFT) build $(CLI_FLAGS) --product twostep
	$(SWIFT) build $(CLI_FLAGS) --product twostepd

module: deps
ifeq ($(STATIC_CXX),1)
	@mkdir -p $(STATIC_CXX_DIR)
	@echo 'INPUT($(word 1,$(STATIC_CXX_LIBS)))' > $(STATIC_CXX_DIR)/libstdc++.so
	@echo 'INPUT($(word 2,$(STATIC_CXX_LIBS)))' > $(STATIC_CXX_DIR)/libgcc_s.so
endif
	$(SWIFT) build $(MODULE_FLAGS)

# Side-by-side benchmark (pam_permit, google-authenticator, pam_oath,
# pam_twostep.so): prints the table and the issue-6 verdicts (BENCHMARKS.md).
# make test runs a smoke version (Tests/Integration/test_bench_smoke.py).
bench: test-deps module
	$(HERMETIC) $(PYTHON) bench/bench.py --module $(CURDIR)/$(MODULE)
	$(SWIFT) build $(CLI_FLAGS) --product twostep
	$(SWIFT) build $(CLI_FLAGS) --product twostepd
	$(HERMETIC) $(PYTHON) bench/selfservice.py --cli $(CURDIR)/$(BIN) --daemon $(CURDIR)/$(SCRATCH)/$(CONFIG)/twostepd

man: build $(MAN_PAGES)

$(MAN_BUILD)/twostep.1.gz: $(BIN) $(CHANGELOG)
	$(SWIFT) build $(CLI_FLAGS) --product generate-manual
	@mkdir -p $(MAN_BUILD)/generated
	$(GENERATE_MANUAL) $(BIN) --date $$(date -u -d @$(SOURCE_DATE_EPOCH) +%F) \
	  --authors 'the twostep authors' --output-directory $(MAN_BUILD)/generated
	sed 's/^$$/.Pp/' $(MAN_BUILD)/generated/twostep.1 | gzip -9n > $@

$(MAN_BUILD)/%.gz: man/%.scd $(CHANGELOG)
	@mkdir -p $(MAN_BUILD)
	scdoc < $< | gzip -9n > $@

install: build man install-files

# Copies what `build` and `man` made; `make deb` stages with it too.
# /var/spool/twostep is made here: twostepd.service may write there
# (ReadWritePaths=) but cannot create it, so neither can the spool channel it
# runs. A plain `make install` on a systemd host enables twostepd.socket.
install-files: install-channels
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/twostep
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/twostepd
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 $(addprefix packaging/systemd/,$(SYSTEMD_UNITS)) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -d -m 0700 $(DESTDIR)/var/spool/twostep
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  systemctl daemon-reload && systemctl enable --now twostepd.socket; \
	fi
	install -D -m 0644 $(MODULE) $(DESTDIR)$(PAMDIR)/pam_twostep.so
	for page in $(notdir $(MAN_PAGES)); do \
	  section=$${page%.gz}; section=$${section##*.}; \
	  install -D -m 0644 $(MAN_BUILD)/$$page $(DESTDIR)$(MANDIR)/man$$section/$$page || exit 1; \
	done
	install -D -m 0644 packaging/pam-configs/twostep $(DESTDIR)$(PAMCONFIGDIR)/twostep
	install -d -m 0755 $(DESTDIR)$(CHANNELDIR)
	$(if $(CHANNELS),install -m 0755 $(CHANNELS) $(DESTDIR)$(CHANNELDIR)/)
	$(if $(CHANNEL_EXAMPLES),install -D -m 0644 -t $(DESTDIR)$(DOCDIR)/examples $(CHANNEL_EXAMPLES))
# twostep.conf (store=/var/lib/twostep/%u, SPEC §7) only when there is none:
# an administrator's file is never overwritten (the .deb makes it a conffile).
# It must be root's and not writable by others, or every login is denied.
	if [ ! -e $(DESTDIR)/etc/twostep/twostep.conf ] && [ ! -L $(DESTDIR)/etc/twostep/twostep.conf ]; then \
	  install -D -o root -g root -m 0644 packaging/twostep.conf $(DESTDIR)/etc/twostep/twostep.conf; \
	fi
	install -d -o root -g root -m 0700 $(DESTDIR)/var/lib/twostep

# Takes the profile out of /etc/pam.d/common-* first (when it was enabled),
# so that PAM never refers to a module that is gone.
uninstall: uninstall-channels
	if [ -z "$(DESTDIR)" ] && [ -f $(PAMCONFIGDIR)/twostep ] && command -v pam-auth-update >/dev/null; then \
	  pam-auth-update --package --remove twostep; \
	fi
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  systemctl disable --now $(SYSTEMD_UNITS) 2>/dev/null; systemctl daemon-reload; \
	fi; true
	rm -f $(DESTDIR)$(SBINDIR)/twostepd $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(SYSTEMD_UNITS))
	rmdir --ignore-fail-on-non-empty $(DESTDIR)/var/spool/twostep 2>/dev/null || true
	rm -f $(DESTDIR)$(BINDIR)/twostep $(DESTDIR)$(PAMDIR)/pam_twostep.so $(DESTDIR)$(PAMCONFIGDIR)/twostep
	for page in $(notdir $(MAN_PAGES)); do \
	  section=$${page%.gz}; section=$${section##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$section/$$page; \
	done
	$(if $(CHANNELS),rm -f $(addprefix $(DESTDIR)$(CHANNELDIR)/,$(notdir $(CHANNELS))))
	$(if $(CHANNEL_EXAMPLES),rm -f $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(CHANNEL_EXAMPLES))))
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(CHANNELDIR) $(DESTDIR)$(PREFIX)/lib/twostep \
	  $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true
# twostep.conf only if it is still the shipped one; /var/lib/twostep only if
# empty: the users' factor files are never removed.
	if cmp -s packaging/twostep.conf $(DESTDIR)/etc/twostep/twostep.conf; then rm -f $(DESTDIR)/etc/twostep/twostep.conf; fi
	rmdir --ignore-fail-on-non-empty $(DESTDIR)/etc/twostep $(DESTDIR)/var/lib/twostep 2>/dev/null || true

# The Debian package: staged with install-files, control data from
# packaging/debian, Depends from what the binaries link (dpkg-shlibdeps).
# lintian fails it on an error, and on any hardening-* tag at any level
# (they are I: tags, shown only with --display-info).
deb: build man
	@dpkg -s lintian >/dev/null 2>&1 || { echo "apt-get install lintian"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null; }
	rm -rf $(DEB_STAGE)
	$(MAKE) --no-print-directory install-files DESTDIR=$(CURDIR)/$(DEB_STAGE) PREFIX=/usr
	packaging/build-deb $(DEB_STAGE) $(DEB)
	lintian --fail-on error --info --display-info --pedantic $(DEB) | tee .build-deb/lintian.txt; \
	  rc=$${PIPESTATUS[0]}; [ $$rc = 0 ] || exit $$rc
	@! grep -E '^[EWIPX]: [^ ]+: hardening-' .build-deb/lintian.txt || \
	  { echo "make deb: lintian reports hardening-* tags (above)" >&2; exit 1; }

# Installs the .deb into a fresh Debian 12 root (debootstrap, cached under
# /var/cache/twostep-test) without Swift, enrols a user, logs in with pamtester.
test-deb: deb
	@missing=$$(for p in debootstrap oathtool; do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	packaging/test-deb $(DEB)

test: test-deps unit-test integration-test fuzz-short test-deb

unit-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The tests run in a private mount namespace in which /etc/twostep is an
# empty tmpfs: an installed /etc/twostep/twostep.conf (make install ships
# one with store=/var/lib/twostep/%u) must not change what the tests' own
# module lines and CLI runs mean; tests that want a configuration give it
# (config=, TWOSTEP_CONFIG). The host's file is untouched.
HERMETIC := unshare --mount --propagation private -- sh -c 'if [ -d /etc/twostep ]; then mount -t tmpfs -o mode=0755 twostep-test /etc/twostep; fi; exec "$$@"' hermetic

integration-test: module
	$(SWIFT) build --product twostep
	$(SWIFT) build --product twostepd
	TWOSTEP_BIN=$(CURDIR)/.build/debug/twostep TWOSTEP_DAEMON=$(CURDIR)/.build/debug/twostepd \
	  TWOSTEP_MODULE=$(CURDIR)/$(MODULE) $(HERMETIC) $(PYTHON) -m pytest -q Tests/Integration

clean:
	rm -rf .build $(MODULE_BUILD) $(MAN_BUILD) .build-deb out

# Channel plugins (SPEC §5): the spool channel serves as both sms and voice
# unless another plugin is already installed under that name. Copies, not
# symlinks: the module refuses a plugin that is a symbolic link.
.PHONY: install-channels uninstall-channels
install-channels:
	install -d -m 0755 $(DESTDIR)$(CHANNELDIR)
	for kind in sms voice; do \
	  [ -e $(DESTDIR)$(CHANNELDIR)/$$kind ] || install -m 0755 channels/spool $(DESTDIR)$(CHANNELDIR)/$$kind || exit 1; \
	done

# Removes sms and voice only when they are still the shipped spool channel.
uninstall-channels:
	for kind in sms voice; do \
	  if cmp -s channels/spool $(DESTDIR)$(CHANNELDIR)/$$kind; then rm -f $(DESTDIR)$(CHANNELDIR)/$$kind; fi; \
	done

# Issue 7, hostile conditions (SECURITY.md). make test runs the short forms:
# the Tests/Integration/test_hostile_*.py files with the integration tests,
# and fuzz-short. The long forms:
#   make fuzz     10^6 runs of each libFuzzer target (fuzz/run, fuzz/Package.swift)
#   make stress   1,000 kill -9s, 20 race rounds, 10,000 guesses, and the rest
.PHONY: fuzz fuzz-short stress
fuzz: deps
	fuzz/run 1000000

fuzz-short: deps
	fuzz/run 20000

stress: test-deps module
	$(SWIFT) build --product twostep
	TWOSTEP_KILLS=1000 TWOSTEP_RACE_ROUNDS=20 TWOSTEP_GUESSES=10000 \
	  TWOSTEP_BIN=$(CURDIR)/.build/debug/twostep TWOSTEP_MODULE=$(CURDIR)/$(MODULE) \
	  $(HERMETIC) $(PYTHON) -m pytest -q -s Tests/Integration/test_hostile_*.py
