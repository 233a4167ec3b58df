"""liblo's ``oscdump`` as an independent OSC decoder, and ``oscsend`` as an independent sender."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time

import pytest

from tests.harness import need_program

_START = re.compile(r"^[0-9a-f]{8}\.[0-9a-f]{8} (/\S*) (\S*)(?: (.*))?$")


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OscDump:
    """``oscdump -L PORT`` in a process: the messages it decoded, as ``(address, types, text)``.

    A message whose string argument spans lines (an ABC tune) is joined back whole.
    """

    def __init__(self) -> None:
        program = need_program("oscdump", "liblo-tools")
        self.port = free_udp_port()
        self._process = subprocess.Popen(
            [program, "-L", str(self.port)], stdout=subprocess.PIPE, text=True
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # ready when a probe comes back decoded (it binds its port after starting)
        probe = b"/probe\x00\x00,\x00\x00\x00"
        deadline = time.monotonic() + 10.0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while not any(line.split(" ")[1:2] == ["/probe"] for line in self._lines):
                if time.monotonic() > deadline:
                    self.close()
                    pytest.fail("oscdump did not start listening in 10 s")
                sender.sendto(probe, ("127.0.0.1", self.port))
                time.sleep(0.05)

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.append(line.rstrip("\n"))

    def messages(self, prefix: str = "") -> list[tuple[str, str, str]]:
        """Every message decoded so far whose address starts with ``prefix``."""
        out: list[list[str]] = []
        for line in list(self._lines):
            start = _START.match(line)
            if start:
                out.append([start[1], start[2], start[3] or ""])
            elif out:  # a string argument that went on over lines
                out[-1][2] += "\n" + line
        return [(a, t, v) for a, t, v in out if a.startswith(prefix) and a != "/probe"]

    def close(self) -> None:
        """Stop oscdump."""
        self._process.terminate()
        self._process.wait(5)
        self._reader.join(5)


def oscsend(port: int, address: str, types: str = "", *values) -> None:
    """Send one message with liblo's ``oscsend`` to 127.0.0.1:PORT."""
    program = need_program("oscsend", "liblo-tools")
    args = [program, "127.0.0.1", str(port), address]
    if types:
        args += [types, *map(str, values)]
    subprocess.run(args, check=True, timeout=10)
