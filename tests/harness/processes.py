"""A listener process run as a performer runs it from a terminal, and stopped as they stop it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.harness.midi import Receiver


def as_from_a_terminal() -> None:
    """Give a child process the stop signals' default actions, as a terminal's shell does.

    A background job inherits SIGINT and SIGQUIT ignored and `nohup` SIGHUP ignored, and a
    program then leaves them so (rightly): the tests that send them must not depend on how
    pytest was run.
    """
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(stop, signal.SIG_DFL)


def start_listener(args: list[str]) -> subprocess.Popen:
    """Run ``listener ARGS`` in a process of its own, as a performer would from a terminal.

    With ``-X faulthandler``, so that :func:`stop_process` can say where one hung; stderr is
    kept for the test to read.
    """
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "listener", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )


def wait_for_notes(receiver: Receiver, count: int, seconds: float = 30.0) -> int:
    """Wait until ``count`` notes have arrived (at most ``seconds``); return how many have."""
    deadline = time.monotonic() + seconds
    while len(receiver.notes_on()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(receiver.notes_on())


def wait_for_quiet(receiver: Receiver, seconds: float = 2.0, still: float = 0.1) -> None:
    """Wait until no message has arrived for ``still`` seconds (at most ``seconds``)."""
    deadline = time.monotonic() + seconds
    count = -1
    while time.monotonic() < deadline:
        if len(receiver.messages) == count:
            return
        count = len(receiver.messages)
        time.sleep(still)


def stop_process(process: subprocess.Popen, stop: str, heard: int) -> str:
    """Send signal ``stop`` and return the process's stderr once it has exited.

    One that has not exited 30 s later is aborted: started by :func:`start_listener`, it dumps
    every thread's stack, and the test fails saying where it hung.
    """
    process.send_signal(getattr(signal, stop))
    try:
        return process.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        err = process.communicate(timeout=10)[1]
        pytest.fail(f"no exit 30 s after {stop} ({heard} notes heard before it); stacks:\n{err}")
