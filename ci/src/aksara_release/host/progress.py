"""Progress reporting: a live table on a terminal, plain lines otherwise (CI logs).

Both forms show each stage's state and elapsed time; the final table is printed the
same way in both. Nothing here ever sees a secret: states are fixed words.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from aksara_release import evidence

_LABEL = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "error": "ERROR",
          "interrupted": "INTERRUPTED"}


class Progress:
    """Thread-safe state board; ``live`` redraws it in place on a TTY."""

    def __init__(self, names: Sequence[str], stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.names = list(names)
        self.width = max((len(n) for n in self.names), default=10)
        self.state = {name: "waiting" for name in self.names}
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drawn = 0
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> None:
        if self.live:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._draw()

    # -- events
    def message(self, text: str) -> None:
        with self._lock:
            if self.live:
                self._clear()
            print(text, file=self.stream, flush=True)

    def update(self, name: str, state: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.started.setdefault(name, now)
            self.state[name] = state
            if not self.live:
                print(f"[{now - self.t0:7.1f}s] {name}: {state}", file=self.stream, flush=True)

    def done(self, result: evidence.StageResult) -> None:
        with self._lock:
            now = time.monotonic()
            self.started.setdefault(result.name, now)
            self.finished[result.name] = now
            self.state[result.name] = _LABEL[result.status]
            if not self.live:
                extra = f" ({result.reason})" if result.reason and result.status != "passed" else ""
                print(
                    f"[{now - self.t0:7.1f}s] {result.name}: {_LABEL[result.status]} "
                    f"in {result.duration_s:.1f}s{extra}",
                    file=self.stream, flush=True,
                )

    # -- live drawing
    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        now = time.monotonic()
        self._clear()
        lines = [f"release gate  {now - self.t0:6.1f}s"]
        for name in self.names:
            start = self.started.get(name)
            end = self.finished.get(name, now)
            elapsed = f"{end - start:6.1f}s" if start is not None else "       "
            lines.append(f"  {name:<{self.width}}  {self.state[name]:<14} {elapsed}")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)


def final_table(results: Sequence[evidence.StageResult], verdict: str, wall: float) -> str:
    """The table printed at the end of every run."""
    width = max([len(r.name) for r in results] + [5])
    rows = [f"{'stage':<{width}}  {'status':<8} {'time':>7}  notes", "-" * (width + 40)]
    for r in results:
        note = r.reason or ""
        rows.append(f"{r.name:<{width}}  {_LABEL[r.status]:<8} {r.duration_s:6.1f}s  {note}")
    total = sum(r.duration_s for r in results)
    rows.append("-" * (width + 40))
    rows.append(
        f"verdict: {verdict.upper()}   wall {wall:.1f}s   sum of stage times {total:.1f}s"
        + (f"   speed-up {total / wall:.2f}x" if wall > 0 else "")
    )
    return "\n".join(rows)
