"""A one-line progress bar on stderr, for ``Pool(progress=True)``: the
recent rate (the last few seconds) as a person reads it, and the items not
ok so far, as the command line's progress line shows them."""

import sys
import time

from . import _native


class Progress:
    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.failed = 0
        self.rate = _native.RecentRate()
        self.last = 0.0

    def add(self, done, failed):
        self.done += done
        self.failed += failed
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self._draw()

    def _draw(self):
        rate = self.rate.update(self.done)
        if self.total:
            width = 30
            filled = int(width * self.done / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        rate = f" {rate}" if rate else ""
        failed = f", {self.failed} not ok" if self.failed else ""
        self.stream.write(f"\rprocmap {bar}{rate}{failed} ")
        self.stream.flush()

    def close(self):
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
