"""Benchmarks: how long the work takes, measured against the tools people would otherwise use.

Each target measures its anchors in the same run: ``features`` (the feature engine against
plain numpy and librosa), ``genres`` (GTZAN vectors and the rolling decision) and ``lstm`` (the
composer's sampling step against onnxruntime fp32 and PyTorch eager); with no target, all of them
and the whole engine on the clip at full speed with the composer running.
"""

from .engine import bench_engine
from .features import bench_features, format_report
from .genres import bench_genres
from .lstm import bench_lstm, format_lstm_report

__all__ = [
    "bench_engine",
    "bench_features",
    "bench_genres",
    "bench_lstm",
    "format_lstm_report",
    "format_report",
]
