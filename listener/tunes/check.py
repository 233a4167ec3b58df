"""Checks on tunes: do they end, do their bars fit the meter, are their repeats balanced.

Used on the composer's output (``listener tunes check``) as folk-rnn's authors looked at theirs.
"""

from __future__ import annotations

from listener.tunes.grammar import TuneGrammar
from listener.tunes.interpret import bar_lengths
from listener.tunes.notation import bar_length
from listener.tunes.tune import Tune
from listener.tunes.vocab import END

_PART_ENDS = (":|", "|:", "|1", "|2")


def check_tune(tune: Tune) -> dict:
    """Check one tune.

    Returns
    -------
    dict
        ``bars`` (full bars checked), ``bars_ok`` (of them, as long as the meter says),
        ``repeats_ok`` (every ``:|`` closes a ``|:`` or the tune's start, every ``|:`` is closed),
        ``parts`` (sections closed by ``:|``, at least 1) and ``well_formed`` (the whole tune is
        what constrained sampling could write: :class:`~listener.tunes.grammar.TuneGrammar`).

    Notes
    -----
    Bars are timed by the interpreter (:func:`~listener.tunes.interpret.bar_lengths`) and
    judged against the meter in force where they end. Set aside, as folk tunes write them: the
    first bar (a pickup) and the last, a part's short last bar (before ``:|``, ``|:`` or an
    ending), the pickup that completes it, and the empty bars between back-to-back bar lines.
    A ``:|`` without a ``|:`` repeats from the start or
    from the previous ``:|``, which ABC allows.
    """
    bars = [b for b in bar_lengths(tune.body, tune.meter) if b.length > 0]
    ok = checked = 0
    for i in range(1, len(bars) - 1):
        length, closing, want = bars[i].length, bars[i].closing, bar_length(bars[i].meter)
        if closing in _PART_ENDS and length < want:
            continue  # a part's last bar, short where a pickup or the repeat makes it up
        before = bars[i - 1]
        if before.closing in _PART_ENDS and before.length + length == want:
            continue  # the pickup that completes the previous part's last bar
        checked += 1
        ok += length == want
    opened, balanced = False, True
    for token in tune.body:
        if token == "|:":
            balanced &= not opened  # a second |: before the first is closed
            opened = True
        elif token == ":|":  # closes a |: or repeats from the start or the last :|
            opened = False
    balanced &= not opened
    return {
        "bars": checked,
        "bars_ok": ok,
        "repeats_ok": balanced,
        "parts": max(1, tune.body.count(":|")),
        "well_formed": TuneGrammar().accepts([*tune.tokens(), END]) is None,
    }


def check_tunes(tunes: list[Tune], ended: list[bool] | None = None) -> dict:
    """Summarise :func:`check_tune` over tunes (``ended``: which ones reached ``</s>``).

    Returns
    -------
    dict
        ``tunes``, ``ended_share``, ``bars_ok_share`` (over all checked bars),
        ``repeats_ok_share``, ``well_formed_share``, ``parts_mean``.
    """
    results = [check_tune(t) for t in tunes]
    n = max(len(results), 1)
    bars = sum(r["bars"] for r in results)
    return {
        "tunes": len(results),
        "ended_share": sum(ended) / n if ended is not None else 1.0,
        "bars_ok_share": sum(r["bars_ok"] for r in results) / max(bars, 1),
        "repeats_ok_share": sum(r["repeats_ok"] for r in results) / n,
        "well_formed_share": sum(r["well_formed"] for r in results) / n,
        "parts_mean": sum(r["parts"] for r in results) / n,
    }


def mask_cost(record: list[tuple[float, float, float]]) -> dict:
    """Summarise what constrained sampling cost (``record`` as ``FolkLSTM.generate`` fills it).

    Returns
    -------
    dict
        ``steps``; ``logp_mean``, the mean log probability (nats) the model gave the tokens it
        sampled; ``logp_masked_mean``, the same once the grammar's mask had taken out the
        ill-formed tokens and renormalised (unconstrained, over the tokens it would allow);
        ``refused_share``, the share of sampled tokens the mask would refuse (0 constrained);
        ``removed_mean``, the mean probability mass taken
        out; ``steps_over_10pct_share``, the share of steps where that was more than 10% (the
        model "wanted" an ill-formed token).
    """
    steps = len(record)
    if not steps:
        return {"steps": 0}
    logp, masked, removed = zip(*record, strict=True)
    within = [m for m in masked if m != float("-inf")]  # unconstrained: tokens the mask allows
    return {
        "steps": steps,
        "logp_mean": round(sum(logp) / steps, 4),
        "logp_masked_mean": round(sum(within) / max(len(within), 1), 4),
        "refused_share": round(1 - len(within) / steps, 4),
        "removed_mean": round(sum(removed) / steps, 4),
        "steps_over_10pct_share": round(sum(r[2] > 0.1 for r in record) / steps, 4),
    }
