"""Fixtures: a real `dealwired` on 127.0.0.1 with a temporary data directory.

The binary comes from $DEALWIRED (set by CMake to $<TARGET_FILE:dealwired>);
the repository from $DEALWIRE_SOURCE_DIR (for demo/seed_story.jsonl and the
examples). `import dealwire` needs PYTHONPATH set to the assembled build tree
(CMake sets it too).
"""

import os
import pathlib
import re
import signal
import subprocess
import time

import pytest
from google.protobuf import json_format

import dealwire
from dealwire.v1 import events_pb2

_START_LINE = re.compile(rb"dealwired \S+ started data_dir=.* listen=(\S+) pid=(\d+)")


def _env_path(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set (run through ctest, or export it)", returncode=2)
    return pathlib.Path(value)


class Server:
    """One dealwired process on a data directory; start() again after stop()."""

    def __init__(self, binary, data_dir, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.process = None
        self.address = None

    def start(self, port=0, timeout=30.0):
        """Starts the server and waits (bounded) for its start line; returns the address."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--data-dir", str(self.data_dir),
                 "--listen", f"127.0.0.1:{port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                match = _START_LINE.search(log.read())
            if match:
                self.address = match.group(1).decode()
                return self.address
            if self.process.poll() is not None:
                raise RuntimeError(f"dealwired exited ({self.process.returncode}):\n"
                                   + self.log_path.read_text(errors="replace"))
            time.sleep(0.02)
        self.process.kill()
        raise RuntimeError(f"dealwired printed no start line in {timeout}s:\n"
                           + self.log_path.read_text(errors="replace"))

    @property
    def port(self):
        return int(self.address.rsplit(":", 1)[1])

    def stop(self, timeout=20.0):
        """Stops the server with SIGTERM (SIGKILL after `timeout`); returns its status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
            raise RuntimeError("dealwired ignored SIGTERM for %ss" % timeout) from None


@pytest.fixture(scope="session")
def source_dir():
    return _env_path("DEALWIRE_SOURCE_DIR")


@pytest.fixture
def server(tmp_path):
    """A fresh dealwired (empty log) for one test."""
    s = Server(_env_path("DEALWIRED"), tmp_path / "data", tmp_path / "dealwired.log")
    s.start()
    yield s
    status = s.stop()
    assert status in (0, None), "dealwired did not stop cleanly:\n" + s.log_path.read_text()


@pytest.fixture
def client(server):
    with dealwire.Client(server.address, timeout=10.0) as c:
        yield c


def load_seed(client, source_dir):
    """Appends demo/seed_story.jsonl in file order, each event to its stream.

    Returns the list of (event, AppendResponse).
    """
    results = []
    path = source_dir / "demo" / "seed_story.jsonl"
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        event = json_format.Parse(line, events_pb2.Event())
        results.append((event, client.append(event.stream, [event])))
    return results


@pytest.fixture
def seeded(client, source_dir):
    """The server with the seed story appended; returns load_seed's list."""
    return load_seed(client, source_dir)
