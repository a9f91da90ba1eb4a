"""Where SAGE keeps per-user data: knowledge-base indexes and converted models.

>>> import os
>>> before = os.environ.get("SAGE_HOME")
>>> os.environ["SAGE_HOME"] = "/tmp/sage-home"
>>> str(sage_home())
'/tmp/sage-home'
>>> _ = os.environ.pop("SAGE_HOME") if before is None else os.environ.update(SAGE_HOME=before)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["sage_home"]


def sage_home() -> Path:
    """SAGE's per-user data folder: ``$SAGE_HOME``, ``$XDG_DATA_HOME/sage`` or ``~/.local/share/sage``."""
    if os.environ.get("SAGE_HOME"):
        return Path(os.environ["SAGE_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "sage"
