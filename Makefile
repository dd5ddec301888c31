# twostep — build, install and test.
#
#   make            build the CLI (release)
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

.PHONY: all build deps test-deps install uninstall test unit-test integration-test clean

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

build: deps
	$(SWIFT) build -c $(CONFIG) --product twostep

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/twostep

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/twostep

test: test-deps unit-test integration-test

unit-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration-test:
	$(SWIFT) build --product twostep
	TWOSTEP_BIN=$(CURDIR)/.build/debug/twostep $(PYTHON) -m pytest -q Tests/Integration

clean:
	rm -rf .build
