"""Composing: folk tunes as folk-rnn v2 tokens, their ABC, the corpus they are learnt from."""

from __future__ import annotations
