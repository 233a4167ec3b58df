"""Deciding: genre classifiers on GTZAN vectors, rolling online decisions, honest evaluation."""

from __future__ import annotations
