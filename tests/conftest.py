"""Session set-up for the workbook's tests.

Builds every program once (unless `make test` just did), starts one delay
server for the whole session with a speedup so the chapters' human-scale
delays run quickly, and exports its address as DELAYSERVER_ADDR.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workbook import ROOT, DelayServer, note_whole_run  # noqa: E402

# Every delay in a chapter program is divided by this in the tests: a 5 s
# request answers after 250 ms. Ratios ("about the longest delay, not the
# sum") stay meaningful because every delay shrinks by the same factor.
SPEEDUP = 20


def _is_worker(config):
    return hasattr(config, "workerinput")   # a process of pytest -n, not the one that started them


def pytest_configure(config):
    # Where every process of this run notes what it saw (workbook.record());
    # make test names one, shared by its two passes.
    if not _is_worker(config) and not os.environ.get("WORKBOOK_RECORDS"):
        config._made_records = tempfile.mkdtemp(prefix="workbook-records-")
        os.environ["WORKBOOK_RECORDS"] = config._made_records


def pytest_unconfigure(config):
    made = getattr(config, "_made_records", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
        del os.environ["WORKBOOK_RECORDS"]


def pytest_sessionstart(session):
    if os.environ.get("WORKBOOK_BUILT") != "1" and not _is_worker(session.config):
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


# The tests marked whole_run judge what the other tests did (which programs
# they started, which README blocks they checked): they come after every
# other test, whatever their file is called. make test runs them in a pass
# of their own, after all the others.

def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("whole_run") is not None)  # stable
    note_whole_run(config, items)
