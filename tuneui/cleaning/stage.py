"""Where the examples that survive the per-example filters wait for deduplication: an Arrow spool
file for real datasets, a list of batches in memory for small ones (tests, the wizard's preview)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tuneui.contract.datasets import Example
from tuneui.data.spool import Spool


class Stage:
    def __init__(self, path: Path | None):
        self.path = path
        self._memory: list[Any] = []
        self._writer = None
        self._reader: Spool | None = None
        if path is not None:
            from tuneui.data.spool import SpoolWriter

            self._writer = SpoolWriter(path)

    def write(self, batch: Any) -> None:
        if self._writer is not None:
            self._writer.write(batch)
        elif batch.num_rows:
            self._memory.append(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _spool(self):
        if self._reader is None and self.path is not None:
            self._reader = Spool(self.path)
        return self._reader

    def batches(self) -> Iterator[Any]:
        spool = self._spool()
        yield from (spool.batches() if spool is not None else self._memory)

    def take(self, rows: Iterable[int]) -> dict[int, tuple[Example, int]]:
        """{stage row: (example, source position)}."""
        spool = self._spool()
        if spool is not None:
            return spool.take(rows)
        from tuneui.data.spool import from_batch

        wanted = sorted(set(rows))
        out: dict[int, tuple[Example, int]] = {}
        start, w = 0, 0
        for batch in self._memory:
            end = start + batch.num_rows
            here = []
            while w < len(wanted) and wanted[w] < end:
                here.append(wanted[w])
                w += 1
            if here:
                examples, lines = from_batch(batch.take([r - start for r in here]))
                out.update(zip(here, zip(examples, lines)))
            start = end
        return out

    def remove(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self.path is not None:
            from tuneui.data.spool import remove

            remove(self.path)
