"""Notes out: a sink on a MIDI port, a scheduler that plays notes on time, and MIDI files.

The interpreter (:mod:`listener.tunes.interpret`) turns tokens into notes in beats; the
:class:`MidiScheduler` plays them at a tempo on a clock through a :class:`MidiSink` (a mido
port on python-rtmidi, JACK or ALSA), and :func:`write_midi` writes them to a file.
"""

from listener.midi.files import write_midi
from listener.midi.scheduler import MidiScheduler, default_tempo
from listener.midi.sink import MidiSink, output_names

__all__ = ["MidiScheduler", "MidiSink", "default_tempo", "output_names", "write_midi"]
