"""Examples a real chat template refuses are found before training, named by file, line and row with
the template's own message and the model family's remedy; `tuneui data` never shows a traceback, and
`tuneui train` refuses the run up front instead of failing mid-run with a raw TemplateError."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.chat_template_cases import tokenizer_for
from tuneui.cli import main
from tuneui.contract.errors import DataError
from tuneui.contract.events import read_events
from tuneui.data.template_check import (
    ALTERNATE,
    FOLD_SYSTEM,
    Origin,
    find_rejections,
    refuse_if_rejected,
    remedy_for,
)
from tuneui.templates import RenderOptions

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"model_type": "llama", "vocab_size": 49152, "hidden_size": 8, "num_hidden_layers": 1,
          "num_attention_heads": 1, "intermediate_size": 8}


def _u(text):
    return {"role": "user", "content": text}


def _a(text):
    return {"role": "assistant", "content": text}


def _sys(text):
    return {"role": "system", "content": text}


ROWS = [[_u("Name a colour."), _a("Blue.")],
        [_sys("Answer in one word."), _u("Name a fruit."), _a("Apple.")],
        [_u("Hi"), _a("Hello")],
        [_sys("Be terse."), _u("What is 2 + 2?"), _a("4")]]


def model_dir(root: Path, template: str) -> Path:
    """A model directory whose tokenizer carries a real template (SmolLM2's vocabulary)."""
    out = root / template
    if not out.exists():
        tokenizer_for(template).save_pretrained(out)
        (out / "config.json").write_text(json.dumps(CONFIG))
    return out


def write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows), encoding="utf-8")
    return path


def tuneui(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "tuneui", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO)


def test_inspect_names_the_rows_gemma_rejects_and_the_fold_system_remedy(tmp_path):
    data = write(tmp_path / "chat.jsonl", ROWS)
    model = model_dir(tmp_path, "gemma-2")
    out = tuneui("data", "inspect", str(data), "--model", str(model))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    for line in (2, 4):
        assert (f"{data}:{line}: row {line}: the chat template rejected this conversation: System role not "
                "supported [template_rejected]") in out.stdout
    assert "chat template: 2 of 4 examples refused: template_rejected 2" in out.stdout
    assert f"remedy: {FOLD_SYSTEM}" in out.stdout and "--set fold_system=true" in FOLD_SYSTEM
    assert "[[Blue.<end_of_turn>]]" in out.stdout  # the preview shows the first example the template accepts
    errors = out.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"tuneui: error: the chat template refuses the data: {data}:2:")

    folded = tuneui("data", "inspect", str(data), "--model", str(model), "--fold-system")
    assert folded.returncode == 0, folded.stderr
    assert "chat template: all 4 examples render (train_reasoning = true, fold_system = true)" in folded.stdout


def test_inspect_json_gives_mixtrals_own_message_and_the_remedy_that_works(tmp_path, capsys):
    # Mixtral's template says "roles must alternate" for a system prompt; folding it is what renders.
    data = write(tmp_path / "mixtral.jsonl", ROWS[:2])
    assert main(["data", "inspect", str(data), "--model", str(model_dir(tmp_path, "mistral-v1")), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    t = out["template"]
    assert t["refused"] == {"template_rejected": 1} and t["remedies"] == [FOLD_SYSTEM]
    (row,) = t["rows"]
    assert (row["line"], row["row"], row["blocking"]) == (2, 2, True)
    assert "Conversation roles must alternate user/assistant/user/assistant/..." in row["message"]
    assert out["tokens"]["refusals"][0]["reason"] == "template_rejected" and out["tokens"]["measured"] == 2
    assert out["preview"]["row"] == 1 and out["preview"]["refusal"] is None


def test_the_alternation_remedy_is_offered_when_folding_would_not_help():
    # The loader refuses such rows itself; other producers of conversations may not.
    tok = tokenizer_for("mistral-v1")
    conv = [_u("First question."), _u("Second question."), _a("One answer.")]
    (rejection,) = find_rejections(tok, [conv], [Origin("f.jsonl", "line", 7, 1)], options=RenderOptions())
    assert rejection.remedy == ALTERNATE and rejection.located().startswith("f.jsonl:7: row 1: ")
    assert remedy_for(tok, [_sys("x"), *conv], "template_rejected", RenderOptions()) == ALTERNATE
    assert remedy_for(tok, conv, "no_reply", RenderOptions()) is None


def test_no_data_command_shows_a_traceback_on_bad_input(tmp_path):
    data = write(tmp_path / "chat.jsonl", ROWS)
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    gemma = model_dir(tmp_path, "gemma-2")
    runs = {
        "missing file": ("data", "inspect", str(tmp_path / "nope.jsonl")),
        "binary file": ("data", "inspect", str(binary)),
        "not a model dir": ("data", "inspect", str(data), "--model", str(no_config)),
        "no such model dir": ("data", "inspect", str(data), "--model", str(tmp_path / "absent")),
        "template rejects rows": ("data", "inspect", str(data), "--model", str(gemma), "--json"),
        "clean with that template": ("data", "clean", str(data), "-o", str(tmp_path / "out"), "--model", str(gemma)),
    }
    for what, args in runs.items():
        out = tuneui(*args)
        assert "Traceback" not in out.stderr + out.stdout, (what, out.stderr[-2000:])
        if what != "clean with that template":  # cleaning needs no template; its token statistics count refusals
            assert out.returncode == 2, (what, out.returncode, out.stderr[-2000:])
            assert out.stderr.startswith("tuneui: error: "), (what, out.stderr)


def test_train_refuses_up_front_naming_the_rows_and_the_remedy(tmp_path, capsys):
    data = write(tmp_path / "chat.jsonl", ROWS * 3)
    run_toml = tmp_path / "run.toml"
    run_toml.write_text(f'model = "{model_dir(tmp_path, "gemma-2")}"\ndataset = "{data}"\nclean = false\n'
                        "val_fraction = 0.25\nmax_steps = 1\n")
    assert main(["train", str(run_toml), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "TemplateError" not in err
    (failed,) = [e for e in read_events(tmp_path / "run") if e.type == "failed"]
    assert failed.reason.startswith("the chat template refuses the data: ")
    assert ": System role not supported [template_rejected]" in failed.reason
    # Rows are named by their place in the file, wherever the split put them.
    assert "6 of 12 examples refused" in failed.reason
    assert all(f"line {n}" in failed.reason or f"{data}:{n}:" in failed.reason for n in (2, 4, 6, 8, 10, 12))
    assert "--set fold_system=true" in failed.reason and "skip_bad_lines" in failed.reason


def test_the_check_skips_rejected_rows_only_when_told_and_never_a_template_wide_refusal():
    tok = tokenizer_for("gemma-2")
    origins = [Origin("f.jsonl", "line", i + 1, i + 1) for i in range(len(ROWS))]
    with pytest.raises(DataError, match=r"f.jsonl:2: row 2: .*System role not supported"):
        refuse_if_rejected(tok, [(ROWS, origins)], options=RenderOptions())
    found = refuse_if_rejected(tok, [(ROWS, origins)], options=RenderOptions(), skip=True)
    assert [r.origin.line for r in found] == [2, 4] and all(r.remedy == FOLD_SYSTEM for r in found)
    assert refuse_if_rejected(tok, [(ROWS, origins)], options=RenderOptions(fold_system=True)) == []

    broken = copy.deepcopy(tok)
    broken.chat_template = "{% for m in messages %}{{ m.content }{% endfor %}"  # does not parse
    with pytest.raises(DataError, match=r"does not parse: .*\[template_unsupported\]$"):
        refuse_if_rejected(broken, [(ROWS, origins)], options=RenderOptions(), skip=True)
