"""Opening a data file as text: compression, byte-order marks, UTF-16, and files that are not text.

Errors say what the bytes look like and where (line and column of the first undecodable byte),
because "'utf-8' codec can't decode byte 0xe9 in position 80433" is useless to a user.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tuneui.contract.datasets import Problem
from tuneui.contract.errors import DataError

COMPRESSED: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)

# Lines longer than this are reported and skipped instead of parsed (a "JSONL" file with no newlines,
# a base64 image pasted into a cell): parsing them would take the memory of the whole file.
MAX_LINE_BYTES = 16 * 1024 * 1024

_MAGIC = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (xlsx/docx files are ZIP archives too)"),
    (b"\x7fELF", "an executable program"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x1f\x8b", "gzip data without a .gz name"),
    (b"PAR1", "a Parquet file without a .parquet name"),
    (b"ARROW1", "an Arrow file"),
]


def open_binary(path: Path) -> BinaryIO:
    opener = COMPRESSED.get(path.suffix.lower())
    try:
        return opener(path, "rb") if opener else path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot open: {exc.strerror or exc}", source=str(path)) from None


def inner_suffix(path: Path) -> str:
    """The suffix that says the format: `train.jsonl.gz` -> `.jsonl`."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_head(path: Path, n: int = 65536) -> bytes:
    with open_binary(path) as fh:
        try:
            return fh.read(n)
        except _DECOMPRESS_ERRORS as exc:
            raise DataError(f"cannot decompress: {exc}", source=str(path)) from None


def sniff_encoding(head: bytes) -> str:
    """The codec to read the file with. Raises DataError for binary files."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) >= len(sample) // 4:
        # ASCII text in UTF-16 without a BOM: every other byte is NUL.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 0.4 * len(sample) / 2 and even < 0.05 * len(sample) / 2:
            return "utf-16-le"
        if even > 0.4 * len(sample) / 2 and odd < 0.05 * len(sample) / 2:
            return "utf-16-be"
    return "utf-8"


def binary_kind(head: bytes) -> str | None:
    """What a non-text file looks like, or None when it may be text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if sniff_encoding(head).startswith(("utf-16", "utf-32")):
        return None
    sample = head[:4096]
    if b"\x00" in sample:
        return "binary data"
    return None


def undecodable_message(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> tuple[int, str]:
    """(line, message) for the first undecodable byte in `raw`."""
    before = raw[: exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    bad = raw[exc.start : exc.start + 1].hex()
    hint = " (it may be Latin-1/Windows-1252: re-save the file as UTF-8)" if encoding.startswith("utf-8") else ""
    return line, f"not valid {encoding.removesuffix('-sig').upper()}: byte 0x{bad} at column {column}{hint}"


def read_text(path: Path) -> tuple[str, str]:
    """The whole file as text and the encoding used (for formats parsed as a whole: JSON, CSV, text)."""
    with open_binary(path) as fh:
        try:
            raw = fh.read()
        except _DECOMPRESS_ERRORS as exc:
            raise DataError(f"cannot decompress: {exc}", source=str(path)) from None
    what = binary_kind(raw[:65536])
    if what:
        raise DataError(f"not a dataset: the file looks like {what}", source=str(path))
    encoding = sniff_encoding(raw[:65536])
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        line, msg = undecodable_message(raw, exc, encoding)
        raise DataError(msg, source=str(path), line=line) from None


def iter_lines(path: Path, unit: str = "line", meter: list[int] | None = None,
               ) -> Iterator[tuple[int, str | None, Problem | None]]:
    """(line number, text, None) per line, or (line number, None, problem) for an unreadable line.

    UTF-8 is decoded line by line so one bad byte costs one line, not the file; huge lines are
    skipped without being held in memory.
    """
    head = read_head(path)
    what = binary_kind(head)
    if what:
        raise DataError(f"not a dataset: the file looks like {what}", source=str(path))
    encoding = sniff_encoding(head)
    if not encoding.startswith("utf-8"):
        text, _ = read_text(path)
        for lineno, line in enumerate(text.splitlines(), 1):
            yield lineno, line, None
        return
    with open_binary(path) as fh:
        lineno = 0
        while True:
            try:
                raw = fh.readline(MAX_LINE_BYTES + 1)
            except _DECOMPRESS_ERRORS as exc:
                raise DataError(f"cannot decompress: {exc}", source=str(path), line=lineno + 1) from None
            if not raw:
                return
            if meter is not None:  # bytes read so far, for progress
                meter[0] += len(raw)
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                size = len(raw)
                while raw and not raw.endswith(b"\n"):  # discard the rest of the line in bounded chunks
                    raw = fh.readline(MAX_LINE_BYTES)
                    size += len(raw)
                mib = size / 2**20
                msg = f"line is {mib:.0f} MiB, over the {MAX_LINE_BYTES // 2**20} MiB limit; skipped"
                yield lineno, None, Problem(msg, lineno, kind="huge_line", unit=unit)
                continue
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                _, msg = undecodable_message(raw, exc, "utf-8")
                yield lineno, None, Problem(msg, lineno, kind="encoding", unit=unit)
