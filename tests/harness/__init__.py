"""The test harness: the real parts the tests (and scripts/measure_engine.py) run against.

- :mod:`tests.harness.jack`: a dummy JACK server, and a client that plays audio into it;
- :mod:`tests.harness.midi`: a JACK MIDI input that records what arrives;
- :mod:`tests.harness.abc2midi`: abc2midi's notes for a tune, the reference for ours;
- :mod:`tests.harness.processes`: a listener process started and stopped as from a terminal.

A test that needs a real part (the gtzan-mini clips, a program, a Python package) skips with a
message that says what to install when the part is missing; under CI (CI=true) that skip is a
failure instead.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GTZAN = Path(os.environ.get("LISTENER_GTZAN", ROOT.parent / "shared" / "data" / "gtzan-mini"))
EXAMPLES = ROOT.parent / "shared" / "reference" / "folkrnn-examples"
STRICT = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str) -> None:
    """Skip the test for a missing real part, or fail under CI."""
    if STRICT:
        pytest.fail(f"{what} (CI=true: a missing real part is a failure, not a skip)")
    pytest.skip(what)


def need_program(name: str, package: str) -> str:
    """Path of a program the test needs; skip (or fail under CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        missing(
            f"{name} not found: install the Debian package {package} (make test does it as root)"
        )
    return path


def need_module(name: str):
    """Import a Python package the test needs; skip (or fail under CI) when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"Python package {name} missing: pip install -e '.[dev]' (make test does it)")


def wait_until(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Wait until ``condition()`` is true, at most ``seconds``; fail naming ``what`` if not."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:g} s for {what}")
        time.sleep(0.01)
