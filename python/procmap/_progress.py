"""A one-line progress bar on stderr, for ``Pool(progress=True)``."""

import sys
import time


class Progress:
    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.last = 0.0

    def add(self, done, failed):
        self.done += done
        self.failed += failed
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now):
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            width = 30
            filled = int(width * self.done / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\rprocmap {bar} {rate:,.0f}/s{failed} ")
        self.stream.flush()

    def close(self):
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()
