"""Count the examples in a corpus file, and check the corpus against MANIFEST.json.

usage:
  python tests/data/real/tools/count.py FILE...     print "rows<TAB>path" per file
  python tests/data/real/tools/count.py --verify    check size, sha256 and rows of every vendored entry

Rows are counted from the file's structure alone, never from a loader under test:
a JSON list counts its items, a JSON object counts as one example (the single-object
files in this corpus hold one conversation or one tokenized example), JSONL counts
non-blank lines, CSV/TSV counts records after the header (quoted newlines allowed).
"""

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def count_rows(path: Path) -> int:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(text)
        return len(data) if isinstance(data, list) else 1
    if suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    if suffix in (".csv", ".tsv"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="," if suffix == ".csv" else "\t")
        return max(sum(1 for _ in reader) - 1, 0)
    if suffix == ".txt":
        return sum(1 for line in text.splitlines() if line.strip())
    raise ValueError(f"{path}: no row rule for {suffix}")


def verify() -> int:
    manifest = json.loads((ROOT / "MANIFEST.json").read_text(encoding="utf-8"))
    failures = 0
    for entry in manifest["files"]:
        if not entry.get("vendored", True):
            continue
        path = ROOT / entry["path"]
        data = path.read_bytes()
        checks = {
            "size": (len(data), entry["size"]),
            "sha256": (hashlib.sha256(data).hexdigest(), entry["sha256"]),
            "rows": (count_rows(path), entry["expect"]["rows"]),
        }
        bad = {name: got for name, (got, want) in checks.items() if got != want}
        if bad:
            failures += 1
            print(f"FAIL {entry['path']}: {bad}")
    listed = {e["path"] for e in manifest["files"] if e.get("vendored", True)}
    on_disk = {
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and p.parent != ROOT and p.relative_to(ROOT).parts[0] != "tools"
    }
    for missing in sorted(on_disk - listed):
        failures += 1
        print(f"FAIL {missing}: on disk but not in MANIFEST.json")
    print(f"{len(listed)} vendored files checked, {failures} failures")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if argv == ["--verify"]:
        return verify()
    for name in argv:
        print(f"{count_rows(Path(name))}\t{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
