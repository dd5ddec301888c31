# twostep — build, install and test.
#
#   make            build the CLI and pam_twostep.so (release)
#   make install    install apt build dependencies, build, install
#   make test       install test dependencies, run every test (unit + integration)
#   make uninstall  remove what make install installed

SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
PYTHON ?= python3
PREFIX ?= /usr
DESTDIR ?=
CONFIG ?= release

# What building needs, and what the tests need on top (Debian package names).
BUILD_DEPS := libssl-dev libpam0g-dev libqrencode-dev pkg-config
TEST_DEPS := oathtool pamtester libpam-wrapper openssh-server zbar-tools valgrind
PIP_TEST_DEPS := pyotp pytest pexpect paramiko

BIN := .build/$(CONFIG)/twostep
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
PAMDIR ?= /lib/$(MULTIARCH)/security

# pam_twostep.so is loaded into sshd: the Swift runtime is linked statically,
# only pam_sm_* are exported (pam/exports.map), -z nodelete keeps libpam from
# unloading it under a threaded client, and it is stripped with no RUNPATH.
# Its own scratch path keeps these flags from rebuilding the CLI's objects.
MODULE_BUILD := .build-module
MODULE := $(MODULE_BUILD)/release/libpam_twostep.so
MODULE_FLAGS := -c release --product pam_twostep --scratch-path $(MODULE_BUILD) \
	--disable-local-rpath -Xswiftc -static-stdlib \
	-Xlinker --version-script=$(CURDIR)/pam/exports.map -Xlinker -znodelete -Xlinker -s

.PHONY: all build module deps test-deps install uninstall test unit-test integration-test clean

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
	@$(PYTHON) -c 'import pyotp, pytest, pexpect, paramiko' 2>/dev/null || \
	  $(PYTHON) -m pip install -q --root-user-action=ignore $(PIP_TEST_DEPS)

build: deps module
	$(SWIFT) build -c $(CONFIG) --product twostep

module: deps
	$(SWIFT) build $(MODULE_FLAGS)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/twostep
	install -D -m 0644 $(MODULE) $(DESTDIR)$(PAMDIR)/pam_twostep.so

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/twostep $(DESTDIR)$(PAMDIR)/pam_twostep.so

test: test-deps unit-test integration-test

unit-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration-test: module
	$(SWIFT) build --product twostep
	TWOSTEP_BIN=$(CURDIR)/.build/debug/twostep TWOSTEP_MODULE=$(CURDIR)/$(MODULE) \
	  $(PYTHON) -m pytest -q Tests/Integration

clean:
	rm -rf .build $(MODULE_BUILD)
