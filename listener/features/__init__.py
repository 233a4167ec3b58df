"""Describing audio: frame features (23 ms), texture windows (1 s), the streaming extractor."""

from __future__ import annotations

from listener.features.extractor import FeatureBlock, FeatureExtractor, extract
from listener.features.frame import FRAME_COLUMNS, frame_features
from listener.features.texture import TEXTURE_COLUMNS, texture_features

__all__ = [
    "FRAME_COLUMNS",
    "TEXTURE_COLUMNS",
    "FeatureBlock",
    "FeatureExtractor",
    "extract",
    "frame_features",
    "texture_features",
]
