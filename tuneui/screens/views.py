"""Numbers as the screens show them: bytes, counts, durations, and a text bar."""

from __future__ import annotations

import math


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def fmt_count(n: float | None) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = int(round(seconds))
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"


def fmt_float(x: float | None, digits: int = 4) -> str:
    """A number in `digits` significant digits; NaN and inf read as such (a NaN loss is news)."""
    if x is None:
        return "–"
    return f"{float(x):.{digits}g}"


def bar(fraction: float, width: int = 20) -> str:
    """A text bar; past 1.0 the overflow shows as a filled bar ending in '!'."""
    fraction = max(0.0, fraction)
    filled = min(width, int(round(min(fraction, 1.0) * width)))
    text = "█" * filled + "░" * (width - filled)
    return text[:-1] + "!" if fraction > 1.0 else text
