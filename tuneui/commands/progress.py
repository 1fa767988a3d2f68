"""Progress of long data steps on stderr: rows, rows/s and the time left.

On a terminal one line is rewritten in place; in a log (not a terminal) a line is written every few
seconds once a step has run for a while, so short runs print nothing and logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tuneui.contract.datasets import LoadProgress


class ProgressPrinter:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.quiet = quiet
        self.last = 0.0
        self.shown = False

    def __call__(self, p: LoadProgress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last >= 0.25:
                self.stream.write("\r" + p.line().ljust(72))
                self.stream.flush()
                self.last, self.shown = now, True
        elif p.seconds >= 3 and now - self.last >= 5:
            self.stream.write(p.line() + "\n")
            self.stream.flush()
            self.last = now

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()
            self.shown = False
