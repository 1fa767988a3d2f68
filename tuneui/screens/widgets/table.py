"""A DataTable whose header keeps up with its rows."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class Table(DataTable):
    """Textual 8's DataTable widens its columns when the app is idle after rows arrive, but caches the
    header line under an update count that this does not change, so the header can stay at the old,
    narrower widths above correctly widened rows. Counting the width update as an update redraws it."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()
