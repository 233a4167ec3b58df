"""How well the machine hears a melody: render tunes it never learned, hear them, score it.

Each tune of the composer's validation split (which neither the LSTM nor the reader's profiles
were fitted on) is played in a random key, near its dance's tempo, by one of four voices (flute,
fiddle, whistle, a voice-like "aah"), through fluidsynth and a General MIDI sound font when they
are installed and through the built-in synthesiser, twice: clean, and humanised (onsets
+-20 ms, tempo drifting up to 5%, swing in hornpipes, vibrato, breaths, room noise at 20 dB
SNR; written rests are rests). The recording goes through the engine's streaming path
(:func:`~listener.transcribe.notes.hear`),
each 4-bar phrase through the reader (:func:`~listener.transcribe.tokens.read_notes`), and:

* the notes are scored with mir_eval (COnP: onset within 50 ms and pitch within 50 cents;
  COnPOff: the offset too, within 20% of the note);
* each phrase's meter, key and mode (48 classes), and the share of its bars whose tokens equal
  the tune's own (data_v2 in C), against the tune as written; the humanised phrases again as
  in trading, the reader told each is four bars, and again as a conversation, each phrase
  read with the one before carried (as phrase after phrase is, live);
* the humanised first phrases as calls (:func:`answer_timing`): when the answer would start,
  against the player's true beats and after the last note-off, the reading's time and the work
  left after the phrase's end (none where it was read ahead, while the rest went on); and each
  whole performance, which is one phrase, for phrase ends heard where there were none (but
  where the tune itself rests).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from listener.config import SAMPLE_RATE
from listener.transcribe.notes import Note, hear
from listener.tunes.notation import BARS, bar_length

#: The ways the humanised phrases are read again (:func:`read_phrases`' options).
AGAIN = ("trading", "conversation")
#: Bars a phrase holds, and the most bars of a tune played.
PHRASE_BARS = 4
MAX_BARS = 16
#: General MIDI programs of the four voices, for fluidsynth: flute, violin, recorder (a fipple
#: flute, as the tin whistle is: the sound font's own Whistle patch sounds 9 semitones flat)
#: and Voice Oohs (a solo voice; Choir Aahs is a choir, whose beating no singer makes).
PROGRAMS = {"flute": 73, "fiddle": 40, "whistle": 74, "voice": 53}
#: Debian's General MIDI sound font (package timgm6mb-soundfont, with fluidsynth).
SOUND_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
#: Humanising: onset jitter (s), tempo drift (share), room noise (dB SNR), vibrato (cents).
JITTER = 0.02
DRIFT = 0.05
SNR_DB = 20.0
VIBRATO_CENTS = 15.0
#: A note ends this long before the next begins (articulation; at most a fifth of the note), or
#: REPEAT before the same pitch again (tongued or bowed anew); a breath takes BREATH more.
ARTICULATION = 0.02
REPEAT = 0.04
BREATH = 0.08
#: Seconds of silence before the first note.
LEAD_IN = 0.5


@dataclass
class Performance:
    """A tune as played: what was played (the truth) and how it sounds.

    ``notes`` are the notes as played (seconds, MIDI pitches in the played key);
    ``phrases`` are each phrase's start and end (seconds) and its bars' tokens as written
    (in C); ``shift`` is the semitones from C to the played key; ``rests`` the written rests
    as played (start and end, seconds), where the player stops as the tune says.
    """

    meter: str
    mode: str
    shift: int
    tempo: float
    voice: str
    synth: str
    humanised: bool
    notes: list[Note]
    phrases: list[tuple[float, float, list[list[str]]]]
    samples: np.ndarray
    beat_time: object = None  # beats (quarter notes from the first note) -> seconds
    first_bar: float = 0.0  # beats (quarter notes) from the first note to the first bar line
    rests: list[tuple[float, float]] = field(default_factory=list)


def fluidsynth_available() -> bool:
    """Whether fluidsynth and the General MIDI sound font are installed."""
    return shutil.which("fluidsynth") is not None and SOUND_FONT.exists()


def bars_of(body: list[str]) -> list[list[str]]:
    """Split a body into its bars' tokens (bar lines and repeat signs dropped)."""
    bars, current = [], []
    for token in body:
        if token in BARS or token in (":|", "::", "|:"):
            if current:
                bars.append(current)
            current = []
        else:
            current.append(token)
    return bars + ([current] if current else [])


def written_bars(tune) -> tuple[list[str], list[list[str]]]:
    """Return the tune's first bars played straight through (no repeats), and their tokens.

    Repeat signs become plain bar lines and every ending is played once, in order: a
    performance of the written bars that the truth can be read off directly.
    """
    bars = bars_of(tune.body)
    whole = bar_length(tune.meter)
    from listener.tunes.interpret import bar_lengths

    lengths = [b.length for b in bar_lengths([t for bar in bars for t in [*bar, "|"]], tune.meter)]
    pickup = 1 if lengths and lengths[0] < whole else 0
    bars = bars[: MAX_BARS + pickup]
    return [t for bar in bars for t in [*bar, "|"]], bars


def perform(
    tune, *, seed: int, voice: str, synth: str, humanised: bool, shift: int | None = None
) -> Performance:
    """Play a tune (data_v2, in C) in a random key, near its dance's tempo (see the module doc).

    ``synth``: ``builtin``, ``fluidsynth``, or ``none`` (the notes played, no sound);
    ``shift``: semitones from C to the key it is played in (random without it).
    """
    from listener.audio.synth import render_melody
    from listener.midi.scheduler import default_tempo
    from listener.tunes.interpret import bar_lengths, interpret

    rng = np.random.default_rng(seed)
    body, bars = written_bars(tune)
    events = interpret([tune.meter, tune.key, *body])
    top: dict[Fraction, object] = {}  # the melody: the highest note at each onset
    for event in events:
        if event.onset not in top or event.pitch > top[event.onset].pitch:
            top[event.onset] = event
    melody = [top[k] for k in sorted(top)]
    drawn = int(rng.integers(-5, 7))
    shift = drawn if shift is None else shift
    tempo = default_tempo(tune.meter) * float(rng.uniform(0.85, 1.15))
    beat = 60.0 / tempo
    total = float(max(e.end for e in melody))
    drift = float(rng.uniform(-DRIFT, DRIFT)) if humanised else 0.0
    hornpipe = humanised and _is_hornpipe(tune)

    def seconds(beats: float) -> float:
        # the time of a beat, the tempo moving linearly by `drift` over the tune
        return LEAD_IN + beat * (beats + drift * (beats * beats / total - beats))

    def played(onset: Fraction) -> float:
        b = float(onset)
        if hornpipe:  # off-beat eighths late, the short note of a dotted pair early
            within = b % 1.0
            if abs(within - 0.5) < 1e-9:
                b += 0.08
            elif abs(within - 0.75) < 1e-9:
                b -= 0.083
        t = seconds(b)
        return t + (float(rng.uniform(-JITTER, JITTER)) if humanised else 0.0)

    onsets = [played(e.onset) for e in melody]
    # where the written bars start, in beats; phrases of PHRASE_BARS bars (a pickup joins the
    # first)
    lengths = [b.length for b in bar_lengths(body, tune.meter)]
    pickup = 1 if lengths and lengths[0] < bar_length(tune.meter) else 0
    starts = np.concatenate([[0.0], np.cumsum([float(x) / 2 for x in lengths])])
    phrase_edges = list(range(pickup, len(bars) + 1, PHRASE_BARS))
    phrase_edges[0] = 0
    if phrase_edges[-1] != len(bars):
        phrase_edges.append(len(bars))
    breaths = {float(starts[i]) for i in phrase_edges[1:-1]}
    notes, rests = [], []
    for i, event in enumerate(melody):
        end = seconds(float(event.end))  # as written: a rest after it is a rest
        if i + 1 < len(melody) and melody[i + 1].onset <= event.end:
            end = onsets[i + 1]  # held until the next note starts
        elif i + 1 < len(melody):
            rests.append((end, onsets[i + 1]))
        again = i + 1 < len(melody) and melody[i + 1].pitch == event.pitch
        stop = end - min(REPEAT if again else ARTICULATION, 0.2 * (end - onsets[i]))
        if humanised and (float(event.end) in breaths or rng.random() < 0.1):
            stop -= BREATH
        stop = max(stop, onsets[i] + 0.04)
        notes.append(Note(onsets[i], stop, event.pitch + shift, 1.0))
    phrases = []
    for a, b in zip(phrase_edges[:-1], phrase_edges[1:], strict=True):
        if b - a < PHRASE_BARS:  # a short last phrase is not scored
            continue
        phrases.append((seconds(float(starts[a])), seconds(float(starts[b])), bars[a:b]))
    if synth == "none":  # the notes alone, for the reader
        samples = np.zeros(0, dtype=np.float32)
    elif synth == "fluidsynth":
        samples = _fluidsynth(notes, voice=voice, vibrato=humanised)
    else:
        samples = render_melody(
            [(n.onset, n.offset, n.pitch) for n in notes],
            voice=voice,
            vibrato_cents=VIBRATO_CENTS if humanised else 0.0,
            seed=seed,
        )
    if humanised and samples.size:
        samples = _with_room_noise(samples, rng)
    mode = tune.key.removeprefix("K:C")
    return Performance(
        tune.meter,
        mode,
        shift,
        tempo,
        voice,
        synth,
        humanised,
        notes,
        phrases,
        samples,
        seconds,
        float(starts[pickup]),
        rests,
    )


def _is_hornpipe(tune) -> bool:
    # a tune in 2/4 or 4/4 whose notes come mostly in dotted pairs
    pitches = sum(1 for t in tune.body if t[-1:].isalpha() or t[-1:] in ",'")
    return tune.meter in ("M:2/4", "M:4/4") and tune.body.count(">") * 2 >= 0.4 * pitches


def _with_room_noise(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # pink-ish noise (white, one-pole low-passed) at SNR_DB below the sounding signal
    from scipy.signal import lfilter

    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(samples.shape[0]))
    sounding = samples[np.abs(samples) > 1e-3]
    level = np.sqrt(np.mean(sounding.astype(np.float64) ** 2)) if sounding.size else 0.1
    noise *= level / np.sqrt(np.mean(noise**2)) * 10 ** (-SNR_DB / 20)
    return (samples + noise).astype(np.float32)


def _fluidsynth(notes: list[Note], *, voice: str, vibrato: bool) -> np.ndarray:
    # the notes as a MIDI file (seconds at 120 bpm, 480 ticks a beat), rendered by fluidsynth
    import mido

    from listener.audio.io import load_audio

    events = []
    for n in notes:
        events.append((n.onset, 1, mido.Message("note_on", note=n.pitch, velocity=90)))
        events.append((n.offset, 0, mido.Message("note_off", note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", program=PROGRAMS[voice]))
    if vibrato:
        track.append(mido.Message("control_change", control=1, value=40))
    now = 0
    for t, _, message in events:
        tick = round(t * 960)  # 480 ticks a beat, 2 beats a second
        track.append(message.copy(time=tick - now))
        now = tick
    with tempfile.TemporaryDirectory() as folder:
        midi, wav = Path(folder) / "p.mid", Path(folder) / "p.wav"
        mido.MidiFile(tracks=[track], ticks_per_beat=480).save(midi)
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "1.0", "-r", str(SAMPLE_RATE), "-F", str(wav)]
            + [str(SOUND_FONT), str(midi)],
            check=True,
            capture_output=True,
        )
        return load_audio(wav)


def answer_timing(performance: Performance, profiles, *, likelihood=None) -> dict | None:
    """Answer the performance's first phrase as a call, timed as the engine would.

    The phrase's audio and a rest go through :func:`~listener.transcribe.notes.hear` with a
    phrase tracker and a :class:`~listener.conversation.Conversation`, as live: the phrase is
    read (timed on this machine's clock) from when the tracker offered it ahead, the tracker
    told its beat once read, or from its end; its answer is planned. Returns the answer's start
    against the nearest true beat of the meter (ms), after the last note-off (in quarter notes,
    and in the meter's beats), the reading's time and the work left after the phrase's end
    (ms), and whether the meter was read right; None when no phrase was heard.
    """
    from listener.answer import plan_answer
    from listener.transcribe.profiles import BEAT

    start, end, _ = performance.phrases[0]
    cut = int(max(start - 0.05, 0.0) * SAMPLE_RATE)
    audio = np.concatenate(
        [
            performance.samples[cut : int((end - 0.05) * SAMPLE_RATE)],
            np.zeros(3 * SAMPLE_RATE, dtype=np.float32),
        ]
    )
    talk = _Talk(profiles, likelihood=likelihood)
    _, calls, _ = talk.hear(audio, answer=False)
    if not calls:
        return None
    call = calls[0]
    began = time.perf_counter()
    reading, read_at, _ = talk.conversation.hear(call, clock=_timer(call.ended))
    spent = talk.spent.get(tuple(call.notes), time.perf_counter() - began)
    plan = plan_answer(reading, now=call.ended, read_at=read_at, last_off=call.notes[-1].offset)
    beat = BEAT[performance.meter] / 4  # the meter's beat, in quarter notes
    grid = performance.first_bar + beat * np.arange(-4, 400)
    beats = np.array([performance.beat_time(b) for b in grid])
    at = plan.start + cut / SAMPLE_RATE
    quarter = 60.0 / performance.tempo
    after = (plan.start - call.notes[-1].offset) / quarter
    return {
        "beat_error_ms": float(np.min(np.abs(beats - at))) * 1e3,
        "after_quarters": after,
        "after_beats": after / beat,
        "read_ms": spent * 1e3,
        "work_ms": max(0.0, read_at - call.ended) * 1e3,
        "read_ahead": call.ahead is not None,
        "meter_right": reading.meter == performance.meter,
    }


def trading_timing(performance: Performance, profiles, *, likelihood=None) -> dict | None:
    """Trade fours with the performance's first two phrases; time the answers' downbeats.

    The player plays the first phrase (four bars) and stops; the machine answers from the
    downbeat after it, finishing the bar it starts in and playing four more; the player comes
    in on the bar line after the answer with the second phrase, at their own tempo, and stops.
    Both go through :func:`~listener.transcribe.notes.hear` with a tracker told ``bars=4`` and
    a :class:`~listener.conversation.Conversation`, as live (the phrases read while played for
    their bar lines, and each answered as it is handed over). Returns each answer's start
    against the player's downbeat after the phrase (ms) and whether the phrase was handed over
    by its bar lines (else it ended by rest); None without two phrases, or when the first
    brought no answer.
    """
    import math

    from listener.tunes.interpret import bar_lengths

    if len(performance.phrases) < 2:
        return None
    (start, first_end, _), (_, second_end, second_bars) = performance.phrases[:2]
    cut = int(max(start - 0.05, 0.0) * SAMPLE_RATE)
    first = performance.samples[cut : int(first_end * SAMPLE_RATE)]
    second = performance.samples[int(first_end * SAMPLE_RATE) : int(second_end * SAMPLE_RATE)]
    rest = np.zeros(8 * SAMPLE_RATE, dtype=np.float32)
    _, _, answers = _Talk(profiles, likelihood=likelihood, bars=PHRASE_BARS).hear(
        np.concatenate([first, rest])
    )
    if not answers:
        return None
    (answer, by_bars, reading) = answers[0]
    bar_line, bar_seconds, _ = reading.foreseen_bars()
    # the player comes in on the bar line after the answer: the bar it started in, then four
    back = bar_line + bar_seconds * (math.ceil((answer - bar_line) / bar_seconds - 0.05) + 4)
    gap = np.zeros(max(int(round(back * SAMPLE_RATE)) - first.shape[0], 0), dtype=np.float32)
    _, _, answers = _Talk(profiles, likelihood=likelihood, bars=PHRASE_BARS).hear(
        np.concatenate([first, gap, second, rest])
    )
    # the player's bars in the second phrase: its written length at its own tempo, four bars
    written = sum(
        float(b.length)
        for b in bar_lengths([t for bar in second_bars for t in [*bar, "|"]], performance.meter)
    )
    four = PHRASE_BARS * float(bar_length(performance.meter)) / written * second.shape[0]
    downbeats = (
        first_end - cut / SAMPLE_RATE,
        (first.shape[0] + gap.shape[0] + four) / SAMPLE_RATE,
    )
    return {
        "downbeat_error_ms": [
            (answer - downbeat) * 1e3
            for (answer, _, _), downbeat in zip(answers, downbeats, strict=False)
        ],
        "by_bars": [by_bars for _, by_bars, _ in answers[:2]],
    }


def _timer(now: float):
    # a clock for a reading begun at stream time `now`: the stream time it is done
    began = time.perf_counter()
    return lambda: now + time.perf_counter() - began


class _Talk:
    # a stream heard as the engine hears it, its phrases read (ahead, as offered) and answered
    # as the composer reads and plans them, on this machine's clock
    def __init__(self, profiles, *, likelihood, bars: int | None = None) -> None:
        from listener.conversation import Conversation
        from listener.transcribe.phrases import PhraseTracker

        self.tracker = PhraseTracker(bars=bars)
        self.conversation = Conversation(likelihood, profiles=profiles, phrases=self.tracker)
        self.spent: dict[tuple, float] = {}  # the phrases read ahead: each reading's seconds

    def hear(self, audio: np.ndarray, *, answer: bool = True) -> tuple[list, list, list]:
        # the notes, the phrases, and with `answer` each answer's start, whether its phrase
        # was handed over by bar lines, and its reading
        answers = []

        def read_ahead(call, now: float) -> None:
            began = time.perf_counter()
            self.conversation.read_ahead(call, clock=_timer(now))
            self.spent[tuple(call.notes)] = time.perf_counter() - began

        def answered(call, now: float) -> None:
            from listener.answer import plan_answer

            reading, read_at, _ = self.conversation.hear(call, clock=_timer(now))
            plan = plan_answer(
                reading,
                now=call.ended,
                read_at=read_at,
                downbeat=call.downbeat,
                last_off=call.notes[-1].offset,
            )
            answers.append((plan.start, call.downbeat is not None, reading))

        notes, calls = hear(
            audio, phrases=self.tracker, read_ahead=read_ahead, answer=answered if answer else None
        )
        return notes, calls, answers


def score_notes(truth: list[Note], heard: list[Note]) -> tuple[float, float]:
    """COnP and COnPOff F-measures (mir_eval's defaults) of notes heard against notes played."""
    try:
        import mir_eval
    except ImportError:
        raise ImportError(
            "scoring notes needs mir_eval: pip install mir_eval (or the dev extra)"
        ) from None

    def arrays(notes):
        intervals = np.array([[n.onset, n.offset] for n in notes]).reshape(-1, 2)
        return intervals, 440.0 * 2 ** ((np.array([n.pitch for n in notes]) - 69) / 12)

    ref, ref_hz = arrays(truth)
    est, est_hz = arrays(heard)
    if not len(heard):
        return 0.0, 0.0
    score = mir_eval.transcription.precision_recall_f1_overlap
    conp = score(ref, ref_hz, est, est_hz, offset_ratio=None)[2]
    return float(conp), float(score(ref, ref_hz, est, est_hz)[2])


def phrase_notes(notes: list[Note], start: float, end: float) -> list[Note]:
    """Return the notes of a phrase played from ``start`` to ``end`` (seconds), for the reader.

    A note begun up to 50 ms early (a humanised onset) is the phrase's; one begun within
    50 ms of its end is the next's.
    """
    return [n for n in notes if start - 0.05 <= n.onset < end - 0.05]


def read_phrases(
    performance: Performance,
    heard: list[Note],
    profiles,
    *,
    likelihood=None,
    trading=False,
    conversation=False,
) -> list:
    """Read each phrase of what was heard: (the phrase's bars as written, the reading or None).

    ``likelihood``: the composer's, for the reader to weigh its candidates by (see
    :func:`~listener.transcribe.tokens.read_notes`); the profiles alone without it.
    ``trading``: the reader is told each phrase is ``PHRASE_BARS`` bars, as a player trading
    fours says (``listen --respond --bars 4``). ``conversation``: each phrase is read with the
    one before carried (its meter, key and tempo likelier), as phrase after phrase of a
    conversation is; else each is read alone.
    """
    from listener.transcribe.tokens import read_notes

    told = PHRASE_BARS if trading else None
    out = []
    before = None
    for start, end, bars in performance.phrases:
        notes = phrase_notes(heard, start, end)
        reading = (
            read_notes(notes, profiles, likelihood=likelihood, bars=told, carry=before)
            if len(notes) > 1
            else None
        )
        if conversation:
            before = reading
        out.append((bars, reading))
    return out


def score_phrases(performance: Performance, heard: list[Note], profiles, **options) -> list[dict]:
    """Read each phrase of what was heard; say whether meter, key and bars are the tune's.

    ``options``: how to read, as :func:`read_phrases` takes them (``likelihood``,
    ``trading``, ``conversation``).
    """
    out = []
    for bars, reading in read_phrases(performance, heard, profiles, **options):
        if reading is None:
            out.append({"meter": False, "key": False, "bars": 0, "of": len(bars)})
            continue
        key = reading.shift % 12 == performance.shift % 12 and reading.mode == performance.mode
        mine = bars_of(reading.tokens[2:]) if key else []
        equal = sum(1 for i, bar in enumerate(bars) if i < len(mine) and mine[i] == bar)
        meter = reading.meter == performance.meter
        out.append({"meter": meter, "key": key, "bars": equal, "of": len(bars)})
    return out


def calibrate(tunes, profiles, *, seed: int = 1) -> dict:
    """Fit the profiles' meter and key temperatures on tunes they were not counted on.

    Each tune is played humanised (the notes alone); each phrase's evidence for every meter
    and key is tempered until the probabilities it gives the true ones are likeliest. Sets
    the temperatures on ``profiles``; returns them with the phrases used.
    """
    from listener.transcribe.profiles import METERS, MODES, best_temperature

    meter_scores, meters, key_scores, keys = [], [], [], []
    for i, tune in enumerate(tunes):
        performance = perform(
            tune, seed=seed * 100_003 + i, voice="flute", synth="none", humanised=True
        )
        for _, reading in read_phrases(performance, performance.notes, profiles):
            if reading is None:
                continue
            meter_scores.append([reading.evidence["meter"][m] for m in METERS])
            meters.append(METERS.index(performance.meter))
            key_scores.append(reading.evidence["key"])
            keys.append((performance.shift % 12) * len(MODES) + MODES.index(performance.mode))
    profiles.meter_temperature = best_temperature(meter_scores, meters)
    profiles.key_temperature = best_temperature(key_scores, keys)
    return {
        "phrases": len(meters),
        "meter_temperature": round(profiles.meter_temperature, 3),
        "key_temperature": round(profiles.key_temperature, 3),
    }


def key_examples(tunes, profiles, *, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phrases to fit the key head on (:func:`~listener.transcribe.profiles.fit_key_head`).

    Each tune is played humanised in a random key (the notes alone) and each phrase read;
    returns the profiles' key scores, the phrases' key features and their true keys.
    """
    from listener.transcribe.profiles import MODES, key_features

    scores, features, truths = [], [], []
    for i, tune in enumerate(tunes):
        performance = perform(
            tune, seed=seed * 100_003 + i, voice="flute", synth="none", humanised=True
        )
        if performance.mode not in MODES:
            continue
        for (start, end, _), (_, reading) in zip(
            performance.phrases, read_phrases(performance, performance.notes, profiles), strict=True
        ):
            if reading is None:
                continue
            notes = phrase_notes(performance.notes, start, end)
            scores.append(reading.evidence["key"])
            features.append(
                key_features([n.pitch for n in notes], [n.onset for n in notes], notes[-1].offset)
            )
            truths.append((performance.shift % 12) * len(MODES) + MODES.index(performance.mode))
    return np.array(scores), np.array(features), np.array(truths)


def evaluate(
    tunes, profiles, *, synths: list[str], seed: int = 0, progress=None, likelihood=None
) -> dict:
    """Play every tune clean and humanised, hear it, score it (see the module doc).

    Parameters
    ----------
    tunes : list of Tune
        Tunes the machine never learned (data_v2, in C), of one meter each.
    profiles : MelodyProfiles
        The reader's profiles.
    synths : list of str
        ``builtin`` and (when installed) ``fluidsynth``; the tunes take turns at them and
        at the voices.
    progress : callable, optional
        Called with (done, total) after each performance.
    likelihood : callable, optional
        The composer's (:meth:`~listener.tunes.lstm.FolkLSTM.likelihood`), as the reader
        uses it live; the profiles alone without it.

    Returns
    -------
    dict
        Figures for the clean and the humanised performances, each overall and by voice and
        synthesiser: COnP, COnPOff, phrases, meter, key, bars.
    """
    from listener.transcribe.tokens import warm_up

    warm_up(profiles)  # the reader compiled before anything is timed
    voices = list(PROGRAMS)
    rows: list[dict] = []
    total = 2 * len(tunes)
    for i, tune in enumerate(tunes):
        voice, synth = voices[i % len(voices)], synths[(i // len(voices)) % len(synths)]
        for humanised in (False, True):
            performance = perform(
                tune, seed=seed * 100_003 + i, voice=voice, synth=synth, humanised=humanised
            )
            # the whole performance is one phrase (breaths and all): every end before the
            # last is a false one, but where the tune itself rests; each phrase offered ahead
            # is read, and the tracker told its beat, as live
            talk = _Talk(profiles, likelihood=likelihood)
            heard, ends, _ = talk.hear(performance.samples, answer=False)
            false_ends = [c for c in ends[:-1] if not _at_a_rest(c, performance.rests)]
            conp, conpoff = score_notes(performance.notes, heard)
            rows.append(
                {
                    "voice": voice,
                    "synth": synth,
                    "humanised": humanised,
                    "conp": conp,
                    "conpoff": conpoff,
                    "phrases": score_phrases(performance, heard, profiles, likelihood=likelihood),
                    **{  # the humanised phrases read again, as in trading and as a conversation
                        way: score_phrases(
                            performance, heard, profiles, likelihood=likelihood, **{way: True}
                        )
                        if humanised
                        else None
                        for way in AGAIN
                    },
                    "false_ends": len(false_ends),
                    "seconds": performance.samples.shape[0] / SAMPLE_RATE,
                    "answer": (
                        answer_timing(performance, profiles, likelihood=likelihood)
                        if humanised
                        else None
                    ),
                    "traded": (
                        trading_timing(performance, profiles, likelihood=likelihood)
                        if humanised
                        else None
                    ),
                }
            )
            if progress is not None:
                progress(len(rows), total)
    figures = {}
    for name, humanised in (("clean", False), ("humanised", True)):
        chosen = [r for r in rows if r["humanised"] == humanised]
        figures[name] = _summary(chosen)
        for key in ("voice", "synth"):
            for value in sorted({r[key] for r in chosen}):
                figures[name][f"{key}:{value}"] = _summary([r for r in chosen if r[key] == value])
    humanised_rows = [r for r in rows if r["humanised"]]
    for way in AGAIN:
        figures[way] = _phrase_figures([p for r in humanised_rows for p in r[way]])
    figures["answers"] = _answer_summary(humanised_rows)
    figures["trading_answers"] = _trading_summary(humanised_rows)
    figures["tunes"] = len(tunes)
    figures["synths"] = synths
    return figures


def _at_a_rest(call, rests: list[tuple[float, float]]) -> bool:
    # the phrase ended where the tune rests: a written rest begins after its last note's onset
    # and before the end was said
    last = call.notes[-1].onset
    return any(last < start < call.ended for start, _ in rests)


def _answer_summary(rows: list[dict]) -> dict:
    # the humanised calls' answers, and false phrase ends over all the playing
    answers = [r["answer"] for r in rows if r["answer"] is not None]
    minutes = sum(r["seconds"] for r in rows) / 60
    false_ends = sum(r["false_ends"] for r in rows)

    def within_two(key: str) -> float | None:
        if not answers:
            return None
        return round(float(np.mean([a[key] <= 2 for a in answers])), 3)

    def spread(key: str, of=None) -> dict:
        return _p50_p95([a[key] for a in (answers if of is None else of)], digits=3)

    return {
        "calls": len(rows),
        "answered": len(answers),
        "beat_error_ms": spread("beat_error_ms"),
        "beat_error_ms_meter_read_right": {
            "calls": sum(a["meter_right"] for a in answers),
            **spread("beat_error_ms", [a for a in answers if a["meter_right"]]),
        },
        "after_quarters": {**spread("after_quarters"), "within_two": within_two("after_quarters")},
        "after_beats": {**spread("after_beats"), "within_two": within_two("after_beats")},
        "read_ms": spread("read_ms"),
        "work_ms": spread("work_ms"),
        "read_ahead": round(float(np.mean([a["read_ahead"] for a in answers])), 3)
        if answers
        else None,
        "false_phrase_ends": false_ends,
        "minutes_played": round(minutes, 2),
        "false_ends_per_5_minutes": round(5 * false_ends / max(minutes, 1e-9), 3),
    }


def _p50_p95(values, *, digits: int) -> dict:
    # the median and 95th percentile, rounded; nothing for no values
    values = np.asarray(values, dtype=float)
    if not values.size:
        return {}
    quantiles = (("p50", 50), ("p95", 95))
    return {q: round(float(np.percentile(values, p)), digits) for q, p in quantiles}


def _trading_summary(rows: list[dict]) -> dict:
    # the humanised tunes' trading: each answer's start against the player's downbeat
    traded = [r["traded"] for r in rows if r["traded"] is not None]
    figures = {"tunes": len(traded)}

    def spread(errors: np.ndarray) -> dict:
        return {
            "answers": int(errors.size),
            "error_ms": _p50_p95(errors, digits=1),
            "within_30_ms": round(float(np.mean(errors <= 30)), 3),
            "within_100_ms": round(float(np.mean(errors <= 100)), 3),
        }

    for k, name in enumerate(("first", "second")):
        answered = [t for t in traded if len(t["by_bars"]) > k]
        errors = np.abs([t["downbeat_error_ms"][k] for t in answered])
        by_bars = np.array([t["by_bars"][k] for t in answered], dtype=bool)
        if not errors.size:
            continue
        figures[name] = {**spread(errors), "by_bars": round(float(np.mean(by_bars)), 3)}
        if by_bars.any():  # those handed over by their bar lines, not ended by rest
            figures[name]["handed_by_bars"] = spread(errors[by_bars])
    return figures


def evaluate_reading(tunes, profiles, *, seed: int = 0, likelihood=None) -> dict:
    """Score the reader alone: each phrase read from the notes as played, not as heard.

    ``likelihood``: the composer's, as in :func:`evaluate`. Clean, humanised, and humanised
    in trading (each phrase said to be ``PHRASE_BARS`` bars).
    """
    figures = {}
    for name, humanised, trading in (
        ("clean", False, False),
        ("humanised", True, False),
        ("trading", True, True),
    ):
        phrases = []
        for i, tune in enumerate(tunes):
            performance = perform(
                tune, seed=seed * 100_003 + i, voice="flute", synth="none", humanised=humanised
            )
            phrases += score_phrases(
                performance, performance.notes, profiles, likelihood=likelihood, trading=trading
            )
        figures[name] = _phrase_figures(phrases)
    return figures


def _phrase_figures(phrases: list[dict]) -> dict:
    # the share of phrases with meter and key right, and of bars token-equal
    if not phrases:
        return {"phrases": 0, "meter": None, "key": None, "bars": 0.0}
    return {
        "phrases": len(phrases),
        "meter": round(float(np.mean([p["meter"] for p in phrases])), 4),
        "key": round(float(np.mean([p["key"] for p in phrases])), 4),
        "bars": round(sum(p["bars"] for p in phrases) / max(1, sum(p["of"] for p in phrases)), 4),
    }


def _summary(rows: list[dict]) -> dict:
    phrases = [p for r in rows for p in r["phrases"]]
    if not rows:
        return {}
    return {
        "performances": len(rows),
        "conp": round(float(np.mean([r["conp"] for r in rows])), 4),
        "conpoff": round(float(np.mean([r["conpoff"] for r in rows])), 4),
        **_phrase_figures(phrases),
    }


def tunes_for_evaluation(corpus: str | Path) -> list:
    """Return a data_v2 corpus's validation split (as the LSTM was trained), one meter each."""
    from listener.tunes.corpus import read_data_v2, split_corpus

    path = Path(corpus)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no corpus; write it with `listener tunes corpus -o {path}` (needs music21)"
        )
    _, valid = split_corpus(read_data_v2(path))
    return [t for t in valid if not any(x.startswith(("M:", "K:")) for x in t.body)]


def default_synths() -> list[str]:
    """Name the synthesisers this machine has: built-in, and fluidsynth when installed."""
    return ["builtin", "fluidsynth"] if fluidsynth_available() else ["builtin"]
