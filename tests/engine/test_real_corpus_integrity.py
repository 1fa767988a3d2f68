"""The real-data corpus stays byte-identical to its sources and agrees with MANIFEST.json.

Loader tests trust MANIFEST.json's row counts and hashes; if a file is edited (even re-saved by an
editor that adds a newline) those expectations silently stop describing the published file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
MANIFEST = json.loads((REAL / "MANIFEST.json").read_text(encoding="utf-8"))
VENDORED = [e for e in MANIFEST["files"] if e["vendored"]]


def _count_module():
    spec = importlib.util.spec_from_file_location("corpus_count", REAL / "tools" / "count.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("entry", VENDORED, ids=[e["path"] for e in VENDORED])
def test_file_matches_manifest(entry):
    data = (REAL / entry["path"]).read_bytes()
    assert len(data) == entry["size"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert _count_module().count_rows(REAL / entry["path"]) == entry["expect"]["rows"]


def test_every_file_on_disk_is_listed():
    listed = {e["path"] for e in VENDORED}
    on_disk = {
        p.relative_to(REAL).as_posix()
        for p in REAL.rglob("*")
        if p.is_file() and p.parent != REAL and p.relative_to(REAL).parts[0] != "tools"
    }
    assert on_disk == listed


def test_manifest_entries_are_complete():
    kinds = {"sft", "text", "preference", "kto", "multimodal", "pretokenized"}
    for entry in MANIFEST["files"]:
        assert entry["expect"]["kind"] in kinds, entry["path"]
        assert entry["expect"]["handling"] in MANIFEST["handling_values"], entry["path"]
        assert entry["source"]["commit"] and len(entry["source"]["commit"]) == 40, entry["path"]
        assert entry["expect"]["must_keep"], entry["path"]
