"""Servers and clusters that SAGE starts die with the process that started them.

Holds the two ways SAGE ties a helper process's life to its parent's, and nothing else:

* :func:`tethered` rewrites a ``python -m module ...`` command (a Prefect API server, a Dask
  scheduler) so that the module runs under a watch thread. Once the starting process is gone
  (a normal exit, SIGTERM, or SIGKILL, which runs no cleanup at all) the helper gets SIGTERM,
  its own clean shutdown, and is forced out ``grace`` seconds later if that hangs.
* :func:`reap_new_children` is for helpers a library starts itself (a local Ray's GCS,
  raylet and agents): one small reaper process follows the processes started inside a
  ``with`` block and ends them once this process has ended.

Dask's LocalCluster needs neither: its nannies and workers already end with their parent
(SIGTERM and SIGKILL, tested).

The watch compares ``os.getppid()`` with the starting pid: when the parent dies the helper is
re-parented (to init or a subreaper), whatever signal ended the parent.

Example::

    argv = tethered([sys.executable, "-m", "uvicorn", "app:app"])
    subprocess.Popen(argv)              # uvicorn stops when this process dies
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["children", "is_running", "reap_new_children", "tethered", "watch_parent"]

DEFAULT_GRACE = 5.0
_POLL = 0.2  # how often a tethered process checks its parent (one getppid call)
_FOLLOW = 1.0  # how often the reaper re-reads the process tree it follows


def tethered(argv: Sequence[str], *, grace: float = DEFAULT_GRACE) -> list[str]:
    """``[python, "-m", module, *args]`` as a command that ends when this process ends.

    >>> tethered(["python", "-m", "uvicorn", "app:app"])[2:4]
    ['sage_adapters.lifetime', '--parent']
    """
    argv = list(argv)
    if len(argv) < 3 or argv[1] != "-m":
        msg = f"tethered() takes a command of the form [python, '-m', module, ...], got {argv!r}"
        raise ValueError(msg)
    return [
        argv[0], "-m", "sage_adapters.lifetime",
        "--parent", str(os.getpid()), "--grace", str(grace), "--", *argv[2:],
    ]  # fmt: skip


def watch_parent(parent: int, *, grace: float = DEFAULT_GRACE) -> threading.Thread:
    """A daemon thread that sends this process SIGTERM once ``parent`` is no longer its
    parent, and ends it with exit status 1 ``grace`` seconds later if it is still running."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_POLL)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=watch, name="sage-parent-watch", daemon=True)
    thread.start()
    return thread


@contextmanager
def reap_new_children(*, grace: float = DEFAULT_GRACE) -> Iterator[None]:
    """Processes this block starts (and all their descendants) end when this process ends.

    For helpers a library starts itself, where the command cannot be wrapped with
    :func:`tethered`::

        with reap_new_children():
            ray.init()          # GCS, raylet and the raylet's agents end with this process

    If the block started child processes, a small reaper process follows them (and whatever
    they start) while this process lives; once it has ended, however it ended, the reaper
    sends them SIGTERM, then SIGKILL after ``grace`` seconds. A pid is only signalled while it
    has the start time it had when first seen, so a reused pid is left alone.
    """
    before = set(children(os.getpid()))
    yield
    roots = [pid for pid in children(os.getpid()) if pid not in before]
    if roots:
        subprocess.Popen(
            [sys.executable, "-m", "sage_adapters.lifetime", "--reap", "--parent", str(os.getpid()),
             "--grace", str(grace), "--", *map(str, roots)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time in clock ticks) from /proc/<pid>/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[1]), fields[19]) if fields[0] != "Z" else None


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (Linux ``/proc``)."""
    return _stat(pid) is not None


def children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (each thread lists the children it started)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def _reap(parent: int, roots: list[int], grace: float) -> None:
    followed: dict[int, str] = {}
    while os.getppid() == parent:
        todo = list(roots)
        while todo:
            pid = todo.pop()
            stat = _stat(pid)
            if stat is not None and followed.setdefault(pid, stat[1]) == stat[1]:
                todo.extend(children(pid))
        deadline = time.monotonic() + _FOLLOW
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(_POLL)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        live = [p for p, started in followed.items() if (_stat(p) or (0, ""))[1] == started]
        for pid in live:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while live and time.monotonic() < deadline:
            live = [p for p in live if (_stat(p) or (0, ""))[1] == followed[p]]
            time.sleep(_POLL)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sage_adapters.lifetime")
    parser.add_argument("--parent", type=int, required=True, help="pid whose end ends this process")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE)
    parser.add_argument("--reap", action="store_true", help="follow and end the pids given")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="-- module args... | -- pid...")
    args = parser.parse_args(argv)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if args.reap:
        _reap(args.parent, [int(p) for p in rest], args.grace)
        return
    if not rest:
        parser.error("name the module to run after --")
    watch_parent(args.parent, grace=args.grace)
    sys.argv = [rest[0], *rest[1:]]
    runpy.run_module(rest[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
