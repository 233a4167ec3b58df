"""ABC to folk-rnn tokens: hand-written tunes with known tokens, real data_v2 tunes, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.errors import ConfigError
from listener.tunes.notation import AbcError, parse_key
from listener.tunes.reading import split_tunes, tune_from_abc
from listener.tunes.tune import Tune
from listener.tunes.vocab import VOCAB, check_tokens
from tests.harness import EXAMPLES, ROOT, missing, need_module


def tokens(abc: str) -> list[str]:
    [(headers, body)] = split_tunes(abc)
    return tune_from_abc(headers, body).tokens()


def test_vocabulary():
    assert len(VOCAB) == 137 and VOCAB.count("<s>") == 1
    with pytest.raises(ConfigError, match=r"prime: \"c''\" is not a folk-rnn v2 token; did you"):
        check_tokens(["M:4/4", "c''"], "prime")


def test_g_major_moves_up_a_fourth():
    abc = 'X:1\nT:t\nM:6/8\nL:1/8\nK:G\n|:GAB d2e|"Am"c2A {c}B2G:|\n'
    assert tokens(abc) == [
        "M:6/8",
        "K:Cmaj",
        "|:",
        "c",
        "d",
        "e",
        "g",
        "2",
        "a",
        "|",
        "f",
        "2",
        "d",
        "e",
        "2",
        "c",
        ":|",
    ]


def test_sixteenths_become_eighths_and_d_moves_down():
    abc = "X:1\nM:2/4\nL:1/16\nK:D\nA2d2 f4|A3B d8|]\n"
    assert tokens(abc) == [
        "M:2/4",
        "K:Cmaj",
        "G",
        "c",
        "e",
        "2",
        "|",
        "G",
        "3/2",
        "A",
        "/2",
        "c",
        "4",
        "|",
    ]


def test_accidentals_keep_their_distance_from_the_signature():
    # in D major =F is a lowered third, ^G a raised fourth: in C, _E and ^F
    abc = "X:1\nM:4/4\nL:1/8\nK:D\nD=FA^G F2 ^F2|\n"
    assert tokens(abc)[2:] == ["C", "_E", "G", "^F", "E", "2", "=E", "2", "|"]


def test_modes_keep_their_scale():
    # A dorian: up two letters (A to c) is the smaller move
    ador = ["K:Cdor", "c", "d", "e", "g", "2", "f", "|"]
    assert tokens("X:1\nM:3/4\nK:Ador\nABc e2d|\n")[1:] == ador
    assert tokens("X:1\nM:3/4\nK:Em\nEFG B2A|\n")[1] == "K:Cmin"
    # in D mixolydian C is natural already (the flat 7th): =c is a courtesy mark, _B in C mix;
    # ^c is the raised 7th, =B in C mix
    dmix = tokens("X:1\nM:6/8\nK:D Mixolydian\nDEF A=c^c|\n")[1:]
    assert dmix == ["K:Cmix", "C", "D", "E", "G", "_B", "=B", "|"]
    key = parse_key("Bb")
    assert key.fifths == -2 and key.signature()[6] == -1


def test_broken_rhythm_tuplets_chords_rests_and_endings():
    abc = "X:1\nM:4/4\nL:1/8\nK:C\n|:A>B c2<d (3efg [CEG]2 z2|1 c4:|2 c2 z2||\n"
    assert tokens(abc)[2:] == [
        "|:",
        "A",
        ">",
        "B",
        "c",
        "2<",
        "d",
        "(3",
        "e",
        "f",
        "g",
        "[",
        "C",
        "E",
        "G",
        "]",
        "2",
        "z",
        "2",
        "|1",
        "c",
        "4",
        ":|",
        "|2",
        "c",
        "2",
        "z",
        "2",
        "|",
    ]


def test_what_is_dropped_from_the_body():
    # titles, chords in quotes, decorations, grace notes, slurs, ties, spacers, fingering
    abc = 'X:1\nT:a title\nM:2/4\nL:1/8\nK:C\n"C"~c{d}(cB) .A-A !trill!G`F vTE y D|\n'
    assert tokens(abc)[2:] == ["c", "c", "B", "A", "A", "G", "F", "E", "D", "|"]


def test_bar_line_spellings():
    abc = "X:1\nM:2/4\nL:1/8\nK:C\nCD::EF|]GA||cd:|[2ef|\n"
    assert tokens(abc)[2:] == [
        "C",
        "D",
        ":|",
        "|:",
        "E",
        "F",
        "|",
        "G",
        "A",
        "|",
        "c",
        "d",
        ":|",
        "|2",
        "e",
        "f",
        "|",
    ]


@pytest.mark.parametrize(
    ("abc", "reason"),
    [
        ("X:1\nM:4/4\nK:Aphr\nABc|\n", "unsupported mode"),
        ("X:1\nM:5/4\nK:C\nABc|\n", "meter not in vocabulary"),
        ("X:1\nM:4/4\nK:C\nABc|[K:G]GAB|\n", "key, meter, unit or voice change"),
        ("X:1\nM:4/4\nK:C\nABc|\nM:3/4\nABc|\n", "key, meter, unit or voice change"),
        ("X:1\nM:4/4\nK:C\nA>>B|\n", "broken rhythm not in vocabulary"),
        ("X:1\nM:4/4\nL:1/8\nK:C\nA11 B|\n", "length not in vocabulary"),
        ("X:1\nM:4/4\nK:C\nC,,,,c''''|\n", "note out of range"),
        ("X:1\nM:4/4\nK:C\n(3:2:3ABc|\n", "tuplet with q or r"),
        ("X:1\nK:C\nABc|\n", "no meter"),
        ("X:1\nM:4/4\nK:C\nZ4|\n", "unknown construct"),
    ],
)
def test_refusals_name_their_reason(abc, reason):
    with pytest.raises(AbcError) as caught:
        tokens(abc)
    assert caught.value.reason == reason


def read_examples(name: str) -> list[Tune]:
    from listener.tunes.corpus import read_data_v2

    path = EXAMPLES / name
    if not path.exists():
        missing(f"{path} not found: the folk-rnn examples live in ../shared/reference")
    return read_data_v2(path)


def test_real_data_v2_tunes_tokenise_back_to_themselves():
    tunes = read_examples("data_v2-first-5-tunes.txt")
    assert len(tunes) == 5
    for i, tune in enumerate(tunes):
        [(headers, body)] = split_tunes(tune.abc(i + 1))
        assert tune_from_abc(headers, body).tokens() == tune.tokens()


def test_generated_tunes_tokenise_back_to_themselves():
    tunes = read_examples("folkrnn-v2-generated-64-tunes.txt")
    assert len(tunes) == 64
    for tune in tunes:
        [(headers, body)] = split_tunes(tune.abc())
        assert tune_from_abc(headers, body).tokens() == tune.tokens()


def test_corpus_from_music21(tmp_path: Path):
    need_module("music21")
    from listener.tunes.corpus import build_corpus, collection_files, read_data_v2, write_data_v2

    files = collection_files()
    tunes, counts = build_corpus(files)
    assert 3500 <= counts["kept"] == len(tunes) <= 4500
    assert {t.key for t in tunes} == {"K:Cmaj", "K:Cmin", "K:Cdor", "K:Cmix"}
    assert all(t in VOCAB for tune in tunes for t in tune.tokens())
    assert len({tuple(t.tokens()) for t in tunes}) == len(tunes)  # no duplicates
    path = tmp_path / "corpus.txt"
    write_data_v2(tunes, path)
    again, _ = build_corpus(files)
    assert [t.tokens() for t in again] == [t.tokens() for t in read_data_v2(path)]


def test_clean_body_drops_what_abc_cannot_hold():
    from listener.tunes.tune import clean_body

    tokens = ["3/2", "C", "2", ">", "D", "[", "E", "G", "]", "2", "[", "]", "|", "/2", "(3"]
    assert clean_body(tokens) == (["C", "2", "D", "[", "E", "G", "]", "2", "|"], 6)
    assert clean_body(["C", "[", "E", "3", "G"]) == (["C", "[", "E", "3", "G", "]"], 0)
    # a broken rhythm may not dot a dotted note (abcm2ps: "Note too much dotted")
    assert clean_body(["A", "3/2", ">", "B", "C", "3", "2>", "D"]) == (
        ["A", "3/2", "B", "C", "3", "D"],
        2,
    )
    assert clean_body(["A", "<", "B", "3", "A", "2", "<", "B", "2"]) == (
        ["A", "B", "3", "A", "2", "<", "B", "2"],
        1,
    )
    assert clean_body(["A", "/2", "<", "B", "/2", "A", "2", ">", "B", "2"])[1] == 0
    # nor may one stand inside a chord or before anything but a note, rest or chord
    assert clean_body(["[", "G", ">", "b", "2", "]", "D", "<", "|", "C", "<"]) == (
        ["[", "G", "b", "2", "]", "D", "|", "C"],
        3,
    )
    # (the length may be part of the token: 2> is a length of 2, then >)
    assert clean_body(["A", "2>", "B", "2", "C", "2>", "D", "E", "3/2>", "F", "3/2"]) == (
        ["A", "2>", "B", "2", "C", "2", "D", "E", "3/2", "F", "3/2"],
        2,
    )
    # a third of a unit is a token that abc2midi refuses
    assert clean_body(["A", "/3", "B"]) == (["A", "B"], 1)
    # and only between notes of one length, outside tuplets
    assert clean_body(["(3", "G", ">", "B", "c", ">", "d"]) == (["(3", "G", "B", "c", "d"], 2)
    # a tuplet cut short by a bar line is dropped, its notes kept
    assert clean_body(["(3", "G", "B", "|", "c"]) == (["G", "B", "|", "c"], 1)
    assert clean_body(["A", "2", ">", "B", "C", ">", "D", "2", "E", "/2", ">", "F", "/2"]) == (
        ["A", "2", "B", "C", "D", "2", "E", "/2", ">", "F", "/2"],
        2,
    )


def test_sampled_key_change_is_an_inline_field():
    tune = Tune("M:4/4", "K:Cmaj", ["C", "D", "|", "K:Cmin", "E", "F", "|"])
    assert tune.abc().splitlines()[-1] == "CD|[K:Cmin]EF|"


def test_bar_and_repeat_checks():
    from listener.tunes.check import check_tune

    # pickup c, two full bars; the parts' short last bars and the pickup g are set aside
    jig = Tune(
        "M:6/8", "K:Cmaj", "c | e 2 c d 2 B | c 3 c 2 :| g | e 2 c d 2 B | c 3 c 2 |".split()
    )
    assert check_tune(jig) == {
        "bars": 2,
        "bars_ok": 2,
        "repeats_ok": True,
        "parts": 1,
        "well_formed": False,  # its short last bar closed by | (abc2midi flags that)
    }
    wrong = Tune("M:4/4", "K:Cmaj", "C 2 D 2 E 2 F 2 | G 2 A 2 B 2 | c 8 | g 8 |".split())
    assert (check_tune(wrong)["bars"], check_tune(wrong)["bars_ok"]) == (2, 1)
    # a triplet of eighths lasts two eighths; > and < trade halves; a chord lasts its note
    timed = Tune(
        "M:2/4", "K:Cmaj", "C D | (3 E F G A 2 | B > c d < e | f 2 [ c e ] 2 | C 4 |".split()
    )
    assert check_tune(timed)["bars_ok"] == check_tune(timed)["bars"] == 3
    assert not check_tune(Tune("M:2/4", "K:Cmaj", "|: C D | E F |: G A :|".split()))["repeats_ok"]
    assert not check_tune(Tune("M:2/4", "K:Cmaj", "|: C D | E F |".split()))["repeats_ok"]
    assert check_tune(Tune("M:2/4", "K:Cmaj", "C D :| E F :|".split()))["repeats_ok"]


def test_check_command(tmp_path):
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "listener",
            "tunes",
            "check",
            "--json",
            str(EXAMPLES / "folkrnn-v2-generated-64-tunes.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["tunes"] == 64 and result["ended_share"] == 1.0
    assert 0.9 < result["bars_ok_share"] <= 1 and 0.9 < result["repeats_ok_share"] <= 1
    tiny = ROOT / "tests" / "data" / "folk-lstm-tiny.onnx"
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "listener",
            "tunes",
            "check",
            "--generate",
            "3",
            "--model",
            str(tiny),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gen.returncode == 0, gen.stderr
    assert set(json.loads(gen.stdout)) >= {
        "tunes",
        "ended_share",
        "bars_ok_share",
        "repeats_ok_share",
    }


def test_a_sampled_change_of_mode_or_meter_is_read_and_played(tmp_path):
    # What the composer writes unconstrained is read back by tunes play, not skipped: a mode
    # change on the tonic and a meter change, note for note as abc2midi plays them
    from listener.tunes.corpus import read_tunes
    from listener.tunes.interpret import interpret
    from tests.harness import need_program
    from tests.harness.abc2midi import abc2midi_notes, same_notes

    abc2midi = need_program("abc2midi", "abcmidi")
    body = "c d e f | K:Cmin e f g a | M:3/4 B c d e f g | K:Cmaj c 6 |"
    written = Tune("M:4/4", "K:Cmaj", body.split())
    path = tmp_path / "changes.abc"
    path.write_text(written.abc())
    [(tune, _)] = read_tunes(path)
    assert tune.tokens() == written.tokens()
    want, accepted = abc2midi_notes(tune.abc(), tmp_path, abc2midi)
    got = [(n.onset, n.pitch, n.duration) for n in interpret(tune.tokens())]
    assert accepted and same_notes(got, want) and len(got) == 15
    # in the corpus, such a tune is still refused, and so is a change to another tonic
    [(headers, text)] = split_tunes(written.abc())
    with pytest.raises(AbcError, match="key, meter, unit or voice change"):
        tune_from_abc(headers, text)
    with pytest.raises(AbcError, match="another tonic"):
        tune_from_abc(headers, text.replace("[K:Cmin]", "[K:Gmaj]"), changes=True)


# Repeat marks as ABC writes them (not as tokens): read and played as abc2midi plays the text.
ODD_REPEATS = {
    ":||": "|:CDEF:||GABc|",
    ":||:": "|:CDEF:||:GABc:|",
    "::": "|:CDEF::GABc:|",
    "an end repeat with no start": "CDEF|GABc:|defg|",
    "an end repeat after ||": "CDEF||GABc:|defg|",
    "two end repeats in a row": "CDEF:|GABc:|defg|",
    "[1 and [2": "|:CDEF|[1GABc:|[2cBAG|",
    "|1 and :|2": "|:CDEF|1GABc:|2cBAG|",
    ":| then [2": "|:CDEF|1GABc:| [2cBAG|",
}


@pytest.mark.parametrize("case", sorted(ODD_REPEATS))
def test_odd_repeat_marks_play_as_abc2midi_reads_them(case, tmp_path):
    from listener.tunes.interpret import interpret
    from tests.harness import need_program
    from tests.harness.abc2midi import abc2midi_notes, same_notes

    abc2midi = need_program("abc2midi", "abcmidi")
    abc = f"X:1\nT:{case}\nM:4/4\nL:1/8\nK:C\n{ODD_REPEATS[case]}\n"
    [(headers, body)] = split_tunes(abc)
    got = [(n.onset, n.pitch, n.duration) for n in interpret(tune_from_abc(headers, body).tokens())]
    want, accepted = abc2midi_notes(abc, tmp_path, abc2midi)
    assert accepted and same_notes(got, want) and len(got) >= 12
