"""Where SAGE keeps per-user data: knowledge-base indexes and converted models.

>>> import os
>>> os.environ["SAGE_HOME"] = "/tmp/sage-home"
>>> str(sage_home())
'/tmp/sage-home'
>>> del os.environ["SAGE_HOME"]
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
