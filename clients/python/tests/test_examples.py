"""The examples run against a real server (each with a bounded timeout)."""

import os
import queue
import signal
import subprocess
import sys
import threading

import dealwire

EVENT_ID = "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a"


def example(source_dir, name):
    return [sys.executable, str(source_dir / "clients" / "python" / "examples" / name)]


def run(source_dir, name, *args, timeout=30):
    return subprocess.run(example(source_dir, name) + list(args), capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


class Lines:
    """Reads a process's stdout lines in a thread, for waits with a deadline."""

    def __init__(self, process):
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def get(self, timeout=30):
        return self.lines.get(timeout=timeout)


def test_record_deal_twice_is_a_duplicate(server, source_dir):
    args = ["--server", server.address, "--event-id", EVENT_ID]
    first = run(source_dir, "record_deal.py", *args)
    assert first.returncode == 0, first.stderr
    assert "recorded deal/amazon-openai-2026 at position 3" in first.stdout
    second = run(source_dir, "record_deal.py", *args)
    assert second.returncode == 0, second.stderr
    assert "duplicate: already recorded deal/amazon-openai-2026 at position 3" in second.stdout
    with dealwire.Client(server.address) as client:
        assert client.stats().last_position == 3


def test_tail_prints_deals_and_stops_cleanly(server, source_dir):
    tail = subprocess.Popen(example(source_dir, "tail.py") + ["--server", server.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        lines = Lines(tail)
        recorded = run(source_dir, "record_deal.py", "--server", server.address)
        assert recorded.returncode == 0, recorded.stderr
        line = lines.get(timeout=30)
        assert line.startswith("#3 deal/amazon-openai-2026 InvestmentReported: amazon -> openai")
        assert "50000000000 USD" in line

        tail.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = tail.communicate(timeout=30)
        assert tail.returncode == 0, err
        assert "stopped after 1 deal(s)" in err
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait(timeout=10)

    with dealwire.Client(server.address) as client:
        [sub] = [s for s in client.subscriptions() if s.name == "deal-tail"]
        assert sub.checkpoint_position >= 3
        assert list(sub.filter.event_types) == ["InvestmentReported", "FundingRoundReported",
                                                "AcquisitionReported", "DealStageChanged"]

    # A second run resumes after the checkpoint: the old deal is not printed again.
    again = run(source_dir, "record_deal.py", "--server", server.address,
                "--investor", "nvidia", "--company", "openai", "--amount", "30B USD")
    assert again.returncode == 0, again.stderr
    resumed = run(source_dir, "tail.py", "--server", server.address, "--max-events", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("#5 deal/nvidia-openai-2026 InvestmentReported")
