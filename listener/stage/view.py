"""The live view: one page in the browser, fed by server-sent events, for a screen in the room.

``listener listen --view [HOST:]PORT`` serves it (127.0.0.1 unless given a host) from a small
aiohttp app on a thread of its own, with its own event loop. The page
(``listener/stage/static``: everything it needs is in the package, abcjs included, because an
installation is offline) shows a level meter, a scrolling spectrogram, the genre posteriors
over time, the decision in letters large enough to read across a room, the tune being played as
a score re-rendered bar by bar with the sounding note lit, and the latency and xrun counters.

``/events`` carries the same events as the JSON lines, each with its id (``SESSION-SEQ``), and
the engine's meter readings as ``meter`` messages (level, centroid, and a 64-band spectrum
computed here, off the analysis thread). A page that loses the server reconnects by itself
(``retry: 1000``); one that comes back to the same run gets what it missed from a history of
recent events (``Last-Event-ID``), and a new run says ``hello`` with a new session, so the page
starts afresh. The engine's thread only appends to a queue and wakes the loop; a client that
falls far behind is dropped (it reconnects and catches up from the history).
"""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import sys
import threading
from pathlib import Path

import numpy as np

from listener.config import SAMPLE_RATE
from listener.errors import ConfigError

#: Where the page and its scripts are.
STATIC = Path(__file__).with_name("static")
#: Numbered events kept for a page that reconnects to the same run.
HISTORY = 4096
#: Events waiting for the loop; beyond it the oldest go (counted in ``dropped``).
QUEUE_SIZE = 4096
#: Messages a client may have waiting before it is dropped as too slow.
CLIENT_BACKLOG = 2048
#: Bands of the spectrum sent with each meter reading (log-spaced, 40 Hz to 11 kHz).
BANDS = 64
_FILES = {
    "/": ("index.html", "text/html"),
    "/view.js": ("view.js", "application/javascript"),
    "/view.css": ("view.css", "text/css"),
    "/abcjs-basic-min.js": ("abcjs-basic-min.js", "application/javascript"),
}


def _band_matrix(size: int) -> np.ndarray:
    # rows: bands; columns: FFT bins; each bin summed into the band its frequency falls in
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    edges = np.geomspace(40.0, SAMPLE_RATE / 2, BANDS + 1)
    matrix = np.zeros((BANDS, freqs.size))
    for band in range(BANDS):
        inside = (freqs >= edges[band]) & (freqs < edges[band + 1])
        if not inside.any():  # a low band narrower than a bin: the nearest bin
            inside[np.argmin(np.abs(freqs - np.sqrt(edges[band] * edges[band + 1])))] = True
        matrix[band, inside] = 1.0 / inside.sum()
    return matrix


class LiveView:
    """Serve the live view and feed it the engine's events (an outlet of the stage).

    Parameters
    ----------
    host, port : str, int
        Where to listen (port 0: one the system chooses; :attr:`port` says which).

    Attributes
    ----------
    url : str
        The page's address.
    rejected : int
        Requests refused (unknown paths, bad methods): counted in every ``stats`` event.
    dropped : int
        Events dropped before they reached the loop (never, unless it stalls).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.session = secrets.token_hex(4)
        self.rejected = 0
        self.dropped = 0
        self._history: collections.deque = collections.deque(maxlen=HISTORY)
        self._pending: collections.deque = collections.deque()
        self._meter: dict | None = None
        self._scheduled = False
        self._lock = threading.Lock()
        self._clients: set[asyncio.Queue] = set()
        self._state: dict = {"decision": None, "tune": [], "stats": None, "phrase": None}
        self._bands = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(host, port), name="live-view", daemon=True
        )
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise ConfigError(
                f"--view {host}:{port}: {getattr(self._error, 'strerror', None) or self._error}"
                "; is another program listening there?"
            )
        self.url = f"http://{self.host}:{self.port}/"

    # ---- the engine's side: never waits
    def __call__(self, event: dict) -> None:
        """Take an event or a meter reading; never waits."""
        with self._lock:
            if event.get("type") == "meter":
                self._meter = event  # only the latest matters
            else:
                if len(self._pending) >= QUEUE_SIZE:
                    self._pending.popleft()
                    self.dropped += 1
                self._pending.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop has closed
            pass

    def close(self) -> None:
        """Stop serving: every page's stream ends (each keeps trying to come back)."""
        if self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                done.result(5.0)
            except Exception:  # noqa: BLE001 - closing regardless
                pass
        self._thread.join(5.0)

    async def _shutdown(self) -> None:
        for queue in list(self._clients):
            queue.put_nowait(None)  # each stream ends, and its connection with it
        deadline = self._loop.time() + 1.0
        while self._clients and self._loop.time() < deadline:  # (each leaves as it ends)
            await asyncio.sleep(0.005)
        await self._runner.cleanup()
        self._runner = None
        self._loop.stop()

    # ---- the loop's side
    def _serve(self, host: str, port: int) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)

        @web.middleware
        async def count_refusals(request, handler):
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                self.rejected += 1
                raise exc
            if response.status >= 400:
                self.rejected += 1
            return response

        app = web.Application(middlewares=[count_refusals])
        app.router.add_get("/events", self._events)
        for route in _FILES:
            app.router.add_get(route, self._file)
        runner = self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            self._loop.run_until_complete(site.start())
            self.host, self.port = runner.addresses[0][:2]
        except BaseException as exc:  # noqa: BLE001 - said by the constructor
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            if self._runner is not None:
                self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    async def _file(self, request):
        from aiohttp import web

        name, kind = _FILES[request.path]
        body = (STATIC / name).read_bytes()
        return web.Response(body=body, content_type=kind, headers={"Cache-Control": "no-cache"})

    def _drain(self) -> None:
        with self._lock:
            events = list(self._pending)
            self._pending.clear()
            meter, self._meter = self._meter, None
            self._scheduled = False
        for event in events:
            self._keep(event)
            ident = f"{self.session}-{event['seq']}" if "seq" in event else None
            message = _sse(event, ident)
            if ident is not None:
                self._history.append((event["seq"], message))
            self._publish(message)
        if meter is not None:
            self._publish(_sse(self._reading(meter), None))

    def _keep(self, event: dict) -> None:
        # what a page that opens now needs to show the run as it is
        kind = event.get("type")
        if kind in ("decision", "stats", "phrase"):
            self._state[kind] = event
        elif kind == "tune":
            if event.get("event") == "start":
                self._state["tune"] = [event]
            else:
                self._state["tune"].append(event)

    def _reading(self, meter: dict) -> dict:
        samples = np.asarray(meter["samples"], dtype=np.float64)
        if self._bands is None or self._bands.shape[1] != samples.size // 2 + 1:
            self._bands = _band_matrix(samples.size)
            self._window = np.hanning(samples.size)
        # dB against a full-scale sine's peak bin (0 dB), per band
        full_scale = (self._window.sum() / 2.0) ** 2
        power = np.abs(np.fft.rfft(samples * self._window)) ** 2 / full_scale
        db = 10.0 * np.log10(self._bands @ power + 1e-12)
        rms = float(meter["rms"])
        return {
            "type": "meter",
            "t": meter["t"],
            "rms_db": round(20.0 * np.log10(max(rms, 1e-6)), 1),
            "centroid": round(float(meter["centroid"]), 1),
            "tempo": round(float(meter.get("tempo") or 0.0), 1),
            "bands": np.clip(np.round(db), -120, 0).astype(int).tolist(),
        }

    def _publish(self, message: bytes) -> None:
        for queue in list(self._clients):
            if queue.qsize() >= CLIENT_BACKLOG:  # too slow: it reconnects and catches up
                self._clients.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(message)

    async def _events(self, request):
        from aiohttp import web

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        await response.write(b"retry: 1000\n\n")
        last = request.headers.get("Last-Event-ID", "")
        session, _, seq = last.partition("-")
        if session == self.session and seq.isdigit():  # the same run: what it missed
            for number, message in list(self._history):
                if number > int(seq):
                    await response.write(message)
        else:
            if last:
                self.rejected += last.count("-") != 1 or not seq.isdigit()
            hello = {"type": "hello", "session": self.session, **self._state}
            await response.write(_sse(hello, None))
        self._clients.add(queue)
        try:
            while True:
                message = await queue.get()
                if message is None:
                    break
                await response.write(message)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(queue)
        return response


def _sse(event: dict, ident: str | None) -> bytes:
    data = json.dumps(event, separators=(",", ":"), default=_plain)
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}data: {data}\n\n".encode()


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    print(f"listener: the view cannot send a {type(value).__name__}", file=sys.stderr)
    return None
