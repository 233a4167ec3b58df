"""Where the JSON lines go: one line per event, written at once, kept whatever the output does.

A run left alone for weeks must not stop because its output did: the program reading standard
output went away (a broken pipe), or the disk under ``--jsonl`` filled. :class:`EventWriter`
says such a failure once on standard error, counts the events it could not write
(:attr:`EventWriter.lost`, in every ``stats`` event), and lets listening and playing go on; a
file that takes writes again gets them again. Each event is one ``write`` of one whole line,
flushed as it goes, so a reader never waits for a buffer and never sees half a line from us.

A ``--jsonl`` file is opened to append (never truncated: a restarted service goes on with its
log) and, with ``max_bytes``, rotated by size: when it would grow past it, it is renamed
``NAME.1`` (then ``NAME.2``, ...: numbered in the order they were filled) and a new ``NAME``
begins. Nothing is deleted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO


class EventWriter:
    """Write events as JSON lines to standard output or a file; never raise for the output.

    Parameters
    ----------
    path : str or Path, optional
        A file to append to; standard output without it.
    max_bytes : int, optional
        Rotate the file when it would grow past this size (see the module doc).
    warn : file, optional
        Where a failure is said, once (standard error by default).
    """

    def __init__(
        self, path: str | Path | None = None, *, max_bytes: int | None = None, warn=None
    ) -> None:
        if max_bytes is not None and max_bytes < 1024:
            raise ValueError(f"a JSON lines file of at most {max_bytes} bytes holds no run")
        self.path = Path(path) if path is not None else None
        self.max_bytes = max_bytes
        self.warn: TextIO = warn if warn is not None else sys.stderr
        #: Events that could not be written; files the log was rotated into.
        self.lost = 0
        self.rotated: list[Path] = []
        self._failing: str | None = None  # the failure said, until a write works again
        self._gone = False  # standard output's reader went away: nothing more is written
        self._file = None
        self._size = 0
        if self.path is not None:
            self._open()

    def _open(self) -> None:
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held for the run
        self._size = self._file.seek(0, os.SEEK_END)

    def __call__(self, event: dict) -> None:
        """Write one event as a line; a failure is counted and said once, never raised."""
        if self._gone:
            self.lost += 1
            return
        line = json.dumps(event) + "\n"
        try:
            if self._file is None:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                data = line.encode()
                if self.max_bytes is not None and 0 < self._size > self.max_bytes - len(data):
                    self._rotate()
                written = self._file.write(data)
                self._size += written
                if written < len(data):
                    raise OSError(f"wrote {written} of {len(data)} bytes (is the disk full?)")
        except OSError as exc:
            self.lost += 1
            self._fail(exc)
            return
        if self._failing is not None:
            self._say(f"events are written again, after {self.lost} lost")
            self._failing = None

    def _rotate(self) -> None:
        assert self._file is not None and self.path is not None
        if not self.path.is_file():  # a device (/dev/stdout, a FIFO) has no size to keep
            self.max_bytes = None
            return
        self._file.close()
        number = 1
        while self.path.with_name(f"{self.path.name}.{number}").exists():
            number += 1
        target = self.path.with_name(f"{self.path.name}.{number}")
        os.rename(self.path, target)
        self.rotated.append(target)
        self._open()

    def _fail(self, exc: OSError) -> None:
        where = str(self.path) if self.path is not None else "standard output"
        if isinstance(exc, BrokenPipeError) and self._file is None:
            # the reader is gone for good: later writes (and Python's own flush at exit) go
            # nowhere instead of failing again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            self._gone = True
        reason = exc.strerror or str(exc)
        if self._failing != reason:
            self._failing = reason
            self._say(
                f"events cannot be written to {where}: {reason}; listening and playing go "
                "on, and the stats count the events lost"
            )

    def _say(self, text: str) -> None:
        try:
            print(f"listener: {text}", file=self.warn, flush=True)
        except OSError:
            pass

    def close(self) -> None:
        """Close the file (standard output stays open)."""
        if self._file is not None:
            self._file.close()
            self._file = None
