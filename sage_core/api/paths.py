"""Input paths of file sources: paths and glob patterns become the list of files to read.

Shared by the columnar file sources (``sage_core.columnar``) and the record file sources of
``sage_recipes.io``, so both name a missing file or an empty pattern the same way. This
module must not open or read files.

>>> expand_paths([])
Traceback (most recent call last):
...
ValueError: no input files: the path list is empty
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable

PathLike = str | os.PathLike[str]


def expand_paths(paths: PathLike | Iterable[PathLike], *, directories: Callable[[str], list[str]] | None = None) -> list[str]:
    """The files named by ``paths`` (paths or glob patterns, each pattern's matches sorted),
    in the order given. A directory is expanded by ``directories`` when given (the columnar
    sources read every data file under it), else it is an error with a hint."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        msg = "no input files: the path list is empty"
        raise ValueError(msg)
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not found:
                msg = f"no file matches the pattern {text!r}"
                raise FileNotFoundError(msg)
            files.extend(found)
        elif os.path.isfile(text):
            files.append(text)
        elif os.path.isdir(text) and directories is not None:
            files.extend(directories(text))
        else:
            hint = " (it is a directory; use a pattern like 'dir/*.txt')" if os.path.isdir(text) else ""
            msg = f"input file {text!r} does not exist{hint}"
            raise FileNotFoundError(msg)
    return files
