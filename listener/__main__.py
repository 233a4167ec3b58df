"""Allow ``python -m listener``."""

from __future__ import annotations

from listener.cli import main

raise SystemExit(main())
