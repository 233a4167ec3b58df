"""The grammar of well-formed tunes: what it allows plays as the interpreter and abc2midi agree."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from listener.tunes.check import check_tune
from listener.tunes.grammar import TuneGrammar
from listener.tunes.interpret import read_through
from listener.tunes.lstm import FolkLSTM
from listener.tunes.notation import bar_length
from listener.tunes.tune import Tune
from listener.tunes.vocab import END, VOCAB
from tests.harness import need_program
from tests.harness.abc2midi import abc2midi_notes, same_notes


def allowed(grammar: TuneGrammar) -> set[str]:
    return {VOCAB[i] for i in np.flatnonzero(grammar.allowed())}


def after(text: str) -> TuneGrammar:
    grammar = TuneGrammar()
    for token in text.split():
        grammar.advance(token)
    return grammar


def test_a_tune_begins_with_its_header_and_never_changes_it():
    assert allowed(TuneGrammar()) == {t for t in VOCAB if t.startswith("M:")}
    assert allowed(after("M:6/8")) == {t for t in VOCAB if t.startswith("K:")}
    body = allowed(after("M:6/8 K:Cdor c"))
    assert not any(t.startswith(("M:", "K:")) for t in body)


def test_lengths_and_bar_lines_keep_the_bar():
    grammar = after("M:3/4 K:Cmaj c 2 d 2 e 2 | c 2 d 2 e")
    lengths = {t for t in allowed(grammar) if t[0].isdigit() or t.startswith("/")}
    assert "2" in lengths and "3" not in lengths and "/2" in lengths  # 5 of 6 eighths so far
    assert "|" not in allowed(grammar) and "c" in allowed(grammar)
    grammar.advance("2")
    assert {"|", ":|"} <= allowed(grammar) and "c" not in allowed(grammar)  # full


def test_a_pickup_and_the_short_bars_it_pairs_with():
    grammar = after("M:6/8 K:Cmaj c")
    assert "|" in allowed(grammar)  # the first bar may be short
    grammar = after("M:6/8 K:Cmaj c | e 2 c d 2 B | c 3 c 2")
    assert ":|" in allowed(grammar) and END in allowed(grammar)  # 5 + 1 make a bar
    grammar.advance(":|")
    grammar.advance("g")
    assert "|" in allowed(grammar) and "a" not in allowed(grammar)  # the next part's pickup


def test_repeats_and_endings_close():
    grammar = after("M:2/4 K:Cmaj |: C D E F | G A B c |1 c B A G")
    assert END not in allowed(grammar) and "|:" not in allowed(grammar)
    grammar.advance(":|")
    assert allowed(grammar) == {"|2"}
    grammar = after("M:2/4 K:Cmaj C D E F :|")
    assert ":|" not in allowed(grammar)  # nothing since the last :| to repeat
    assert "|1" not in allowed(after("M:2/4 K:Cmaj C D E F"))  # no |: began this part


def test_broken_rhythms_join_notes_of_one_length():
    grammar = after("M:4/4 K:Cmaj c 2>")
    assert allowed(grammar) == {
        t
        for t in VOCAB
        if t == "z" or t in allowed(after("M:4/4 K:Cmaj")) and t[0] in "^_=ABCDEFGabcdefg"
    }
    grammar.advance("d")
    assert allowed(grammar) == {"2"}  # the right note as long as the left one
    assert not {">", "<"} & allowed(after("M:4/4 K:Cmaj c 3/2"))  # no dotted note broken


def test_tuplets_take_plain_notes_that_fit():
    grammar = after("M:2/4 K:Cmaj c d")  # two eighths left: (3 takes two, (4 three
    assert "(3" in allowed(grammar) and "(4" not in allowed(grammar)
    grammar = after("M:2/4 K:Cmaj (3 c")
    assert not any(t[0].isdigit() or t.startswith(("/", "|", "[")) for t in allowed(grammar))


def _random_walk(seed: int, cap: int = 160) -> list[str]:
    # a tune of tokens drawn uniformly among those allowed: every corner of the grammar
    rng = np.random.default_rng(seed)
    grammar, tokens = TuneGrammar(), []
    while END not in tokens:
        grammar.closing = len(tokens) > cap
        choices = np.flatnonzero(grammar.allowed())
        assert choices.size, tokens  # never a dead end
        token = VOCAB[int(rng.choice(choices))]
        tokens.append(token)
        grammar.advance(token)
        assert len(tokens) < 4 * cap, tokens
    return tokens


def _assert_plays_as_written(tokens: list[str], folder, abc2midi: str) -> None:
    tune, ended = Tune.from_sampled(tokens)
    assert ended and tune.cleaned() == (tune, 0)  # nothing to clean
    notes, reader = read_through(tune.tokens())
    assert not reader.warnings, (reader.warnings, tokens)
    full = bar_length(tune.meter)
    bars = [b.length for b in reader.bars if b.length > 0]
    assert sum(b != full for b in bars[1:-1]) <= 2 * tokens.count(":|"), tokens
    want, accepted = abc2midi_notes(tune.abc(), folder, abc2midi)
    got = [(n.onset, n.pitch, n.duration) for n in notes]
    assert accepted and same_notes(got, want), tune.abc()
    check = subprocess.run(
        [abc2midi, str(folder / "tune.abc"), "-c"], capture_output=True, text=True, timeout=60
    )
    flagged = [line for line in check.stdout.splitlines() if "time units" in line]
    assert all(line.endswith("in repeat") for line in flagged), (flagged, tune.abc())
    assert (
        check_tune(tune)["well_formed"] and check_tune(tune)["bars_ok"] == check_tune(tune)["bars"]
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_tunes_of_the_grammar_play_as_abc2midi_plays_them(seed, tmp_path):
    abc2midi = need_program("abc2midi", "abcmidi")
    _assert_plays_as_written(_random_walk(seed), tmp_path, abc2midi)


def test_the_models_constrained_tunes_play_as_abc2midi_plays_them(tmp_path):
    abc2midi = need_program("abc2midi", "abcmidi")
    model = FolkLSTM()
    for seed in range(500, 512):  # seeds no figure was measured on
        tokens = list(model.generate(seed=seed))
        assert tokens[-1] == END
        _assert_plays_as_written(tokens, tmp_path, abc2midi)


def test_a_prime_that_breaks_the_form_is_named():
    from listener.errors import ConfigError

    model = FolkLSTM()
    prime = "M:4/4 K:Cmaj c d e f g a b c' d'"  # nine eighths in a bar of eight
    with pytest.raises(ConfigError, match=r"prime: \"d'\" \(token 11\)"):
        model.generate(prime)
    assert list(model.generate(prime, constrained=False, max_tokens=3))[:11] == prime.split()
