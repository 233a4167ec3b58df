"""Tokens to sound: feed a token stream through the interpreter into a running scheduler."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from listener.midi.scheduler import MidiScheduler
from listener.tunes.interpret import TuneInterpreter


def play_tokens(
    tokens: Iterable[str],
    scheduler: MidiScheduler,
    interpreter: TuneInterpreter | None = None,
    on_token: Callable[[str], None] | None = None,
) -> TuneInterpreter:
    """Interpret tokens as they come (from a file, or sampled by the composer) and play them.

    The scheduler must be started; it is closed when the tokens end, so it stops after the last
    note. If anything fails (the token source, the composer's sampling, the interpreter), the
    scheduler is stopped at once, every sounding note silenced, and the error raised again;
    Ctrl-C (``KeyboardInterrupt``) included.

    Parameters
    ----------
    tokens : iterable of str
        folk-rnn v2 tokens, e.g. ``FolkLSTM.generate(...)``.
    scheduler : MidiScheduler
        Started.
    interpreter : TuneInterpreter, optional
        A fresh one by default.
    on_token : callable, optional
        Called with each token as it arrives (to print or log it).

    Returns
    -------
    TuneInterpreter
        With the tune's warnings and length (``beats``).
    """
    player = interpreter or TuneInterpreter()
    try:
        for token in tokens:
            if on_token is not None:
                on_token(token)
            scheduler.feed(player.process(token))
        scheduler.feed(player.flush())
        scheduler.close()
    except BaseException:
        scheduler.stop()
        raise
    return player
