"""Every real file of the corpus (tests/data/real, MANIFEST.json) is read as what it is.

For each file: the kind tuneui names is the manifest's; the example count is right; every string a
row carries for training (its must_keep fields: prompts, replies, system prompts, history, tool
definitions and calls, both sides of a preference pair, KTO labels) is still in the example it became;
kinds tuneui cannot train are refused by name, and files whose columns cannot be read safely are
refused naming the columns; the file's bytes are the same after loading and cleaning. The six large
LLaMA-Factory demos are read from shared/real-external/ when present (see the corpus README).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.contract.errors import DataError
from tuneui.data import load_examples

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"
EXTERNAL = ROOT / "shared" / "real-external"
MANIFEST = json.loads((REAL / "MANIFEST.json").read_text(encoding="utf-8"))
ENTRIES = MANIFEST["files"]
REFUSAL_NAMES = {"preference": "preference data", "kto": "KTO data", "multimodal": "multimodal data",
                 "pretokenized": "pre-tokenized data"}
# Structure and markup, not training text.
SKIP_KEYS = {"role", "from", "type", "loss", "loss_weight", "weight", "label", "kto_tag", "id", "score_chosen",
             "score_rejected", "prompt_id", "Preference", "metainfo", "metadata"}
# What the loader reads as "no input" (an alpaca row's input placeholder is not training text).
PLACEHOLDER_INPUTS = {"", "<noinput>", "<no input>", "noinput", "no input", "none", "n/a"}


def path_of(entry: dict) -> Path:
    if entry["vendored"]:
        return REAL / entry["path"]
    local = EXTERNAL / Path(entry["path"]).name
    if not local.exists():
        pytest.skip(f"{local} is not here (an external corpus file, see tests/data/real/README.md)")
    return local


def rows_of(path: Path) -> list:
    """The file's records, read with the standard library alone (never with the loader under test)."""
    import csv

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".csv":
        return list(csv.DictReader(text.splitlines()))
    return [line for line in text.splitlines() if line.strip()]


def strings(value, key: str | None = None) -> list[str]:
    """Every training string inside a value (JSON text such as a tools column is opened up)."""
    if key in SKIP_KEYS:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return strings(json.loads(text), key)
            except ValueError:
                pass
        return [text] if text and text.lower() not in PLACEHOLDER_INPUTS else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [json.dumps(value)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v, key)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(v, k)]
    return []


def blob(example) -> str:
    """Everything of an example a trainer sees, as one text (calls and tools as JSON)."""
    parts = []
    for _, conv in example.parts():
        for m in conv:
            parts += [m["content"], m.get("reasoning_content") or "", m.get("name") or ""]
            if m.get("tool_calls"):
                parts.append(json.dumps(m["tool_calls"], ensure_ascii=False))
                parts += strings(m["tool_calls"])  # argument text as it is, not JSON-escaped
    if example.tools:
        parts.append(json.dumps(example.tools, ensure_ascii=False))
    return "\n".join(parts)


def _norm(text: str) -> str:
    return " ".join(text.replace("Human:", " ").replace("Assistant:", " ").split())


def kept_field(row, field: str) -> str:
    top = field.split("[")[0].split(".")[0]
    if isinstance(row, list):  # a bare list of messages per line
        return "messages"
    return top if top in row else ""


ids = [e["path"] for e in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_kind_count_refusal_and_nothing_lost(entry):
    path = path_of(entry)
    expect = entry["expect"]
    before = hashlib.sha256(path.read_bytes()).digest()
    if expect["handling"] == "needs_mapping":
        with pytest.raises(DataError) as err:
            load_examples(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message
        for column in expect["must_keep"][-2:]:
            assert column in message  # the columns that cannot be read are named
        assert "--column" in message
        assert hashlib.sha256(path.read_bytes()).digest() == before
        return
    examples, _, result = load_examples(path, skip_bad=True)
    assert result.kind == expect["kind"], result.kind_evidence
    assert result.examples == expect["examples"] and result.records == expect["rows"]
    assert result.kind_evidence
    if expect["kind"] in REFUSAL_NAMES:
        assert REFUSAL_NAMES[expect["kind"]] in result.refusal
    else:
        assert result.refusal is None and not result.errors
    if expect["kind"] in ("multimodal", "pretokenized"):
        return  # counted and refused: nothing of them is trained, so nothing can be lost
    rows = rows_of(path)
    assert len(examples) == len(rows)
    for n, (row, example) in enumerate(zip(rows, examples), 1):
        text = _norm(blob(example))
        if isinstance(row, str):  # plain text: the whole line is the document
            assert _norm(row) in text
            continue
        for field in expect["must_keep"]:
            if field.startswith("score_"):  # kept as numbers beside the pair
                assert getattr(example, field) == float(row[field])
                continue
            if field == "Preference":  # the answer it names is the chosen one
                assert _norm(row[row[field]]) in _norm(blob(example.__class__(messages=[], chosen=example.chosen)))
                continue
            for s in strings(row.get(kept_field(row, field)) if isinstance(row, dict) else row):
                assert _norm(s) in text, f"row {n}: {field} lost {s[:80]!r}"
        if isinstance(row, dict) and isinstance(row.get("label"), bool):
            assert example.label is row["label"]
    assert hashlib.sha256(path.read_bytes()).digest() == before


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["expect"]["kind"] in ("sft", "text", "preference", "kto")
                                   and e["expect"]["handling"] != "needs_mapping"],
                         ids=[e["path"] for e in ENTRIES if e["expect"]["kind"] in ("sft", "text", "preference", "kto")
                              and e["expect"]["handling"] != "needs_mapping"])
def test_clean_cli_writes_the_kind_and_never_touches_the_input(entry, tmp_path, capsys):
    path = path_of(entry)
    before = hashlib.sha256(path.read_bytes()).digest()
    code = main(["data", "clean", str(path), "-o", str(tmp_path / "out"), "--json", "--skip-bad",
                 "--set", "quality=false", "--set", "min_length=0"])  # the corpus holds one-word fixtures
    assert hashlib.sha256(path.read_bytes()).digest() == before
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == entry["expect"]["kind"]
    columns = _columns(tmp_path / "out" / "train.parquet")
    if entry["expect"]["kind"] == "preference":
        assert {"prompt", "chosen", "rejected"} <= columns
    elif entry["expect"]["kind"] == "kto":
        assert {"prompt", "completion", "label"} <= columns
    else:
        assert {"messages", "tools"} <= columns


def _columns(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(path).names)


def _entry(name: str) -> dict:
    return next(e for e in ENTRIES if e["path"].endswith(name))


def test_identity_answers_survive_default_cleaning():
    from tuneui.cleaning import clean

    examples, lines, _ = load_examples(path_of(_entry("llamafactory-identity.json")))
    result = clean(examples, lines=lines)
    assert result.report.after == 91 and result.report.filter("boilerplate").removed == 0
    assert result.report.filter("quality").enabled is False  # instruction data: no web-text rules


def test_alpaca_demo_duplicates_and_the_email_regex():
    from tuneui.cleaning import clean

    examples, lines, _ = load_examples(path_of(_entry("alpaca_en_demo.json")))
    result = clean(examples, lines=lines)
    gone = set(result.removed_indices["exact_duplicates"]) | set(result.removed_indices["boilerplate"])
    for group in ([92, 610], [100, 591], [117, 275], [146, 646], [170, 867], [352, 568], [387, 546], [398, 508, 848],
                  [484, 702], [506, 745], [542, 700], [614, 771], [854, 895]):
        assert all(i in gone for i in group[1:]) and (group[0] not in gone or group[0] in
                                                       result.removed_indices["boilerplate"])
    regex = examples[434].messages[-1]["content"]
    kept = result.kept[result.kept_indices.index(434)]
    assert kept.messages[-1]["content"] == regex and "@[a-zA-Z0-9.-]+" in regex
    assert result.report.filter("quality").enabled is False


def test_glaive_rows_that_differ_only_in_tools_are_kept_and_tools_are_trained():
    from tuneui.cleaning import clean

    examples, lines, _ = load_examples(path_of(_entry("glaive_toolcall_en_demo.json")))
    assert sum(1 for e in examples if e.tools) == 191
    calls = sum(1 for e in examples for m in e.messages if m.get("tool_calls"))
    results = sum(1 for e in examples for m in e.messages if m["role"] == "tool")
    assert (calls, results) == (211, 211)
    result = clean(examples, lines=lines)
    for a, b in ([77, 292], [233, 263], [48, 217]):
        assert examples[a].messages == examples[b].messages and examples[a].tools != examples[b].tools
        assert a in result.kept_indices and b in result.kept_indices
