"""Named constants shared by every stage.

Sizes are in samples at ``SAMPLE_RATE``; the seconds they stand for are given beside them.
"""

from __future__ import annotations

#: Internal sample rate in Hz. Everything is resampled to it at the edge.
SAMPLE_RATE = 22050
#: Analysis frame and hop: 512 samples = 23.2 ms. One frame is one latency budget.
FRAME = 512
#: Frames in a texture window: 43 frames = 22016 samples = 0.998 s.
TEXTURE_FRAMES = 43
#: Seconds covered by one frame (the per-frame latency budget), 0.0232 s.
FRAME_SECONDS = FRAME / SAMPLE_RATE
#: Number of rfft bins of one frame: FRAME // 2 + 1 = 257.
N_BINS = FRAME // 2 + 1
#: Mel bands behind the MFCCs (Slaney-normalised, 0 to SAMPLE_RATE / 2).
N_MELS = 40
#: MFCCs kept: c1..c5 (c0, the level, is left out so that features do not depend on gain).
N_MFCC = 5
#: Share of the spectral magnitude below the rolloff frequency.
ROLLOFF = 0.85
#: Floor for mel band power before taking decibels (-100 dB).
POWER_FLOOR = 1e-10
#: A frame whose magnitude sum is below this counts as silence.
SILENCE = 1e-10
