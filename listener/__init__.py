"""listener: a streaming real-time listening machine.

It hears music, describes it every 23 ms with the Tzanetakis & Cook (2002) features, decides its
genre as it goes and answers with folk tunes of its own.
"""

from __future__ import annotations

__version__ = "0.1.0"
