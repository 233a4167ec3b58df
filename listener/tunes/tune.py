"""A tune in folk-rnn's terms, and what is cleaned out of a sampled one before it is written."""

from __future__ import annotations

from dataclasses import dataclass, field

from listener.tunes.notation import BARS, BROKEN, LENGTHS, PITCH, length_of, plain_length
from listener.tunes.vocab import END


@dataclass
class Tune:
    """A tune in folk-rnn's terms: meter token, key token (K:C + mode), body tokens.

    ``offset`` is the number of semitones that take it from C back to the key it was written
    in (0 for tunes born in C); it is not part of the tokens, nor of equality.
    """

    meter: str
    key: str
    body: list[str]
    offset: int = field(default=0, compare=False)

    @classmethod
    def from_sampled(cls, tokens: list[str]) -> tuple[Tune, bool]:
        """Make a tune of sampled tokens (meter, key, body, maybe ``</s>``); say if it ended.

        A missing meter or key becomes M:4/4 or K:Cmaj.
        """
        ended = bool(tokens) and tokens[-1] == END
        body = list(tokens[:-1] if ended else tokens)
        meter = body.pop(0) if body and body[0].startswith("M:") else "M:4/4"
        key = body.pop(0) if body and body[0].startswith("K:") else "K:Cmaj"
        return cls(meter, key, body), ended

    def cleaned(self) -> tuple[Tune, int]:
        """Return the tune without what ABC cannot hold (:func:`clean_body`), and the count."""
        body, dropped = clean_body(self.body)
        return Tune(self.meter, self.key, body, self.offset), dropped

    def tokens(self) -> list[str]:
        """Meter, key and body: what the model reads after ``<s>``."""
        return [self.meter, self.key, *self.body]

    def data_v2(self) -> str:
        """Write the tune as a data_v2 block: meter line, key line, spaced body line."""
        return f"{self.meter}\n{self.key}\n{' '.join(self.body)}\n"

    def abc(self, index: int = 1, title: str = "listener") -> str:
        """Write the tune as ABC that abc2midi and abcm2ps read (body joined without spaces).

        A meter or key token inside the body (a sampled change) is written as an inline field,
        ``[K:Cmin]``. Lines break after every fourth bar, as tunes are printed.
        """
        from listener.tunes.interpret import TuneInterpreter

        # a line never breaks inside a tuplet, which the interpreter knows (when there is one)
        reader = None
        if any(token.startswith("(") for token in self.body):
            reader = TuneInterpreter(self.meter, self.key)
        parts, bars = [], 0
        for i, token in enumerate(self.body):
            if reader is not None:
                reader.process(token)
            parts.append(f"[{token}]" if token[:2] in ("M:", "K:") else token)
            bars += token in BARS
            last = i + 1 == len(self.body)
            open_tuplet = reader is not None and reader.tuplet_open
            if bars >= 4 and token in ("|", ":|") and not open_tuplet and not last:
                parts.append("\n")
                bars = 0
        body = "".join(parts)
        return f"X:{index}\nT:{title}\n{self.meter}\nL:1/8\n{self.key}\n{body}\n"


def clean_body(tokens: list[str]) -> tuple[list[str], int]:
    """Drop what cannot be written as ABC from sampled body tokens; return them and the count.

    A length or broken rhythm that follows no note, rest or chord, a chord bracket that does
    not pair, a tuplet with nothing after it: a well-trained model rarely samples these, and
    abc2midi refuses them. A broken rhythm inside a chord or with no note after it, one that
    would dot a note already dotted (``a3/2>b``, ``a<b3``), and a tuplet that starts before the
    last one has its notes go too: abcm2ps refuses them. So does a broken rhythm between notes
    of different lengths (``a2>b``), which abc2midi refuses to apply.
    """
    out: list[str] = []
    in_chord = False
    kept = 0
    pending, tuplet_at = 0, 0  # notes the open tuplet still takes, and where it stands
    last_in_tuplet = False

    for token in tokens:
        if out and not (PITCH.fullmatch(token) or token in "z["):
            if BROKEN.fullmatch(out[-1]) or out[-1].startswith("("):
                if out[-1].startswith("("):
                    pending = 0
                out.pop()  # a broken rhythm or a tuplet needs a note after it
                kept -= 1
        previous = out[-1] if out else ""
        holds_time = bool(PITCH.fullmatch(previous)) or previous in ("z", "]")
        if BROKEN.fullmatch(token):
            if in_chord or pending or last_in_tuplet:
                continue
            if not (holds_time or (token in "<>" and previous in LENGTHS)):
                continue
            # the left note's length: in the token (2>, /2<), or the length before it, or 1
            own = token[:-1]
            written = own or (previous if previous in LENGTHS else "")
            if token.endswith(">") and written and not plain_length(written):
                if own:  # keep the length, lose the rhythm
                    out.append(own)
                continue
        elif token in LENGTHS:
            denominator = length_of(token).denominator
            if not holds_time or denominator & (denominator - 1):
                continue  # /3 is a token, but abc2midi and abcm2ps refuse it
            before = out[-2] if len(out) > 1 else ""
            if before.endswith("<") and not plain_length(token):
                out.pop(-2)  # the broken rhythm would lengthen this dotted note
                kept -= 1
        elif token == "[":
            if in_chord:
                continue
            in_chord = True
        elif token == "]":
            if not in_chord or previous == "[":
                if previous == "[":  # an empty chord: both brackets go
                    out.pop()
                    kept -= 1
                    in_chord = False
                continue
            in_chord = False
        elif in_chord and not PITCH.fullmatch(token):
            continue  # only notes inside a chord
        elif token.startswith("("):
            if pending:
                continue  # tuplets do not nest
            pending, tuplet_at = int(token[1:]), len(out)
        elif pending and token in BARS:
            del out[tuplet_at]  # a tuplet may not cross a bar line: its notes play plain
            kept -= 1
            pending = 0
        if token == "z" or (PITCH.fullmatch(token) and not in_chord):
            last_in_tuplet = pending > 0
            pending = max(pending - 1, 0)
        if token == "]":
            last_in_tuplet = pending > 0
            pending = max(pending - 1, 0)
        out.append(token)
        kept += 1
    while out and (out[-1].startswith("(") or BROKEN.fullmatch(out[-1])):
        out.pop()
        kept -= 1
    if in_chord:
        out.append("]")  # closes the last chord (not a sampled token)
    out, unapplied = _without_unapplied_broken_rhythms(out)
    return out, len(tokens) - kept + unapplied


def _without_unapplied_broken_rhythms(tokens: list[str]) -> tuple[list[str], int]:
    # The broken rhythms the interpreter does not apply (between notes of different lengths,
    # as abc2midi does not) go: `2>` keeps its length, `>` goes whole.
    from listener.tunes.interpret import read_through

    if not any(BROKEN.fullmatch(token) for token in tokens):
        return tokens, 0
    skipped = {
        at
        for at, why in read_through(tokens)[1].skipped
        if why == "broken rhythm between notes of different lengths"
    }
    kept = [t[:-1] if i in skipped else t for i, t in enumerate(tokens)]
    return [t for t in kept if t], len(skipped)
