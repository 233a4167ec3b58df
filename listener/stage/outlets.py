"""Where the engine's events go: the JSON lines, then every outlet of the stage.

The engine has one ``emit`` callable; :class:`Outlets` is it when the stage is on. Each event
goes to the JSON lines writer first (as without the stage), then to each outlet (OSC, the live
view), whose ``__call__`` only queues it. The engine's ``meter`` readings (frame features and
recent samples, many a second) go to the outlets alone: they are not events and are not
numbered with them.
"""

from __future__ import annotations

from collections.abc import Callable


class Outlets:
    """Fan the engine's events out to the JSON lines and the stage's outlets.

    Parameters
    ----------
    writer : callable
        The JSON lines (:class:`~listener.events.EventWriter`); its ``lost`` is this one's.
    outlets : list of callable
        Each takes every event and every meter reading, without waiting.

    Attributes
    ----------
    inputs : list
        The stage's inputs (OSC in), each counting what it ``rejected`` (as the view does).
    """

    def __init__(self, writer: Callable[[dict], None], outlets: list) -> None:
        self.writer = writer
        self.outlets = list(outlets)
        self.inputs: list = []

    @property
    def rejected(self) -> int:
        """Malformed input the stage's inputs refused."""
        return sum(getattr(part, "rejected", 0) for part in self.inputs + self.outlets)

    @property
    def lost(self) -> int:
        """Events the JSON lines could not write."""
        return getattr(self.writer, "lost", 0)

    def __call__(self, event: dict) -> None:
        """Send an event to the JSON lines, then to each outlet."""
        self.writer(event)
        for outlet in self.outlets:
            outlet(event)

    def meter(self, reading: dict) -> None:
        """Send a meter reading to the outlets alone."""
        for outlet in self.outlets:
            outlet(reading)

    def close(self) -> None:
        """Close every input and outlet (what each outlet has queued goes out first)."""
        for source in self.inputs:
            source.close()
        for outlet in self.outlets:
            outlet.close()
