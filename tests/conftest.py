"""Session set-up for the workbook's tests.

Builds every program once (unless `make test` just did), starts one delay
server for the whole session with a speedup so the chapters' human-scale
delays run quickly, and exports its address as DELAYSERVER_ADDR.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workbook import ROOT, DelayServer  # noqa: E402

# Every delay in a chapter program is divided by this in the tests: a 5 s
# request answers after 250 ms. Ratios ("about the longest delay, not the
# sum") stay meaningful because every delay shrinks by the same factor.
SPEEDUP = 20


def pytest_sessionstart(session):
    if os.environ.get("WORKBOOK_BUILT") != "1":
        subprocess.run(["make", "-s", "-C", ROOT, "variants"], check=True)


@pytest.fixture(scope="session")
def delayserver():
    """The session's delay server (speedup SPEEDUP); DELAYSERVER_ADDR points at it."""
    server = DelayServer("--speedup", str(SPEEDUP))
    os.environ["DELAYSERVER_ADDR"] = server.addr
    yield server
    status = server.stop()
    assert status == 0, f"delayserver exited {status} on SIGTERM: {server.errors}"


@pytest.fixture
def start_server():
    """Start extra delay servers with their own options; all are stopped after the test."""
    servers = []

    def start(*args, **kwargs):
        server = DelayServer(*args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# Tests that judge the whole run (which programs the other tests started)
# must come after every other test, whatever their file is called.
LAST = ("test_every_sanitizer_build_is_run_by_some_sanitizer_test", "test_every_readme_block_is_checked")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.name in LAST)  # stable: the rest keep their order
