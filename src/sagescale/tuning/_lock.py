"""One orchestrating process per local tuning job.

The process that drives a tuning job (``fit`` or ``resume``) holds an exclusive
``flock`` on ``<workspace>/tuning/<name>.lock`` until the search loop ends. A second
process that tries to drive the same tuning job gets a :class:`TuningError` at once
instead of starting training jobs of its own. The operating system drops the lock when
its process dies, so ``resume()`` after a crash never finds a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sagescale.errors import TuningError

__all__ = ["TuningLock"]


class TuningLock:
    """An exclusive, non-blocking lock on one tuning job of a workspace."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.path = root / "tuning" / f"{name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`TuningError` naming the process that holds it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise TuningError(
                f"tuning job {self.name} is already driven by an orchestrator (pid {holder}); "
                "wait for it, or stop() it, before resuming it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
