"""The one exception hierarchy of listener.

Every message names the file, device or token at fault and says what to do about it.
"""

from __future__ import annotations


class ListenerError(Exception):
    """Base class of every error listener raises on purpose."""


class AudioError(ListenerError):
    """Audio that cannot be used: bad samples, wrong shape, a stream that failed."""


class DeviceError(ListenerError):
    """An audio or MIDI device that is missing, busy or refuses its settings."""


class ModelError(ListenerError):
    """A model file that is missing, malformed or does not match the code."""


class DataError(ListenerError):
    """An input file or collection that cannot be read or is not what it claims to be."""


class ConfigError(ListenerError, ValueError):
    """A setting or command-line option that makes no sense (a ValueError too, as Python's own)."""
