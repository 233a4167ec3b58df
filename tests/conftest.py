"""Shared fixtures: the real data and programs the tests use, and what happens when one is missing.

A test that needs a real part (the gtzan-mini clips, sox, librosa) skips with a message that says
what to install when the part is missing; under CI (CI=true) that skip is a failure instead.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GTZAN = Path(os.environ.get("LISTENER_GTZAN", ROOT.parent / "shared" / "data" / "gtzan-mini"))
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


@pytest.fixture(scope="session")
def gtzan() -> Path:
    """The gtzan-mini collection in ../shared/data (or $LISTENER_GTZAN)."""
    if not (GTZAN / "genres").is_dir():
        missing(f"gtzan-mini not found at {GTZAN}: set LISTENER_GTZAN to its folder")
    return GTZAN


@pytest.fixture(scope="session")
def librosa():
    """librosa, the reference implementation of the frame features."""
    return need_module("librosa")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def jack_server():
    """A dummy JACK server (48 kHz, periods of 128 frames: 2.7 ms), unique to this module."""
    need_program("jackd", "jackd2")
    need_module("jack")
    from jack_server import dummy_jack

    with dummy_jack() as name:
        yield name
