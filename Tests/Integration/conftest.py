"""Fixtures every integration test can name (no import needed); the
helpers behind them are harness.py's.

twostep_bin  path of the twostep binary   } harness.binary: $TWOSTEP_BIN,
daemon_bin   path of twostepd             } $TWOSTEP_DAEMON, $TWOSTEP_MODULE,
module       path of pam_twostep.so       } else this checkout's build; fails,
                                            naming the build command, when missing
users        factory: users.make(password=None, home=True) -> harness.User,
             all removed (userdel -r) at teardown; needs root
test_user    one users.make() user
daemon_test_bin  path of twostepd-test (harness.binary: $TWOSTEP_DAEMON_TEST, else this checkout's
             debug build): twostepd plus io.twostep.Test (--test-interface), which the
             shipped twostepd does not serve
"""

import pytest

from harness import Users, binary, require_root


@pytest.fixture(scope="session")
def twostep_bin():
    return binary("twostep")


@pytest.fixture(scope="session")
def daemon_bin():
    return binary("twostepd")


@pytest.fixture(scope="session")
def module():
    require_root()
    return binary("module")


@pytest.fixture(scope="session")
def daemon_test_bin():
    return binary("twostepd-test")


@pytest.fixture
def users():
    require_root()
    u = Users()
    try:
        yield u
    finally:
        u.cleanup()


@pytest.fixture
def test_user(users):
    """A new user `tsmod-<random>` with a home directory."""
    return users.make()
