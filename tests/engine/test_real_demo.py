"""The offline demo's claims, on the real model and a reduced budget: `tuneui train --demo` lifts
exact match on held-out ISO dates from near 0, the tuned model stops at its end-of-turn token on
its own (in the report, and in `tuneui chat`), the forgetting probe measures a real base, and a
merged export of the bf16 base is bf16.

The run is the demo's own recipe cut down to fit the suite (fewer, smaller steps; fewer prompts
scored); the full demo's figures are benchmarks (benchmarks/demo_real.py), not assertions here.
Skipped only where the model cannot be obtained (see conftest's `real_demo_model_dir`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tuneui.demo_task import generate

# The reduced recipe (see the docstring): half the steps and half the micro-batch of the demo, with
# its learning rate, LoRA targets and rank, and fewer prompts scored with a shorter cap.
REDUCED = {"max_steps": 10, "micro_batch_size": 8, "eval_max_examples": 24, "eval_max_new_tokens": 16}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A real 135M-parameter training run and two evaluations: minutes of CPU, so marked slow (it still
# runs with the default `python -m pytest`, as every slow test does). The module's run is made in
# the first test's setup, which pytest-timeout counts against that test: on a loaded 2-core
# machine it took over the suite's 600 s (about 13 minutes at load average 4.6).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def demo_run(real_demo_model_dir, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("real-demo") / "demo"
    sets = [a for k, v in REDUCED.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.run([sys.executable, "-m", "tuneui", "train", "--demo", "-o", str(run_dir), *sets],
                          capture_output=True, text=True, timeout=1700, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stdout)
    return run_dir


def test_the_demo_learns_the_format_and_to_stop(demo_run):
    report = json.loads((demo_run / "report.json").read_text())
    tm, stop = report["task_metric"], report["stop_rate"]
    print(f"reduced real demo: exact match {tm['base']:.2f} -> {tm['tuned']:.2f}, stop rate "
          f"{stop['base']:.2f} -> {stop['tuned']:.2f}, probe ratio {report['forgetting']['ratio']:.3f}")
    assert tm["name"] == "exact_match" and tm["n"] == REDUCED["eval_max_examples"]
    assert tm["base"] <= 0.1  # the base answers in sentences, not in the format
    # The reduced recipe's tuned figure has read 0.54 and 0.83 on 24 prompts (one prompt = 0.04; the
    # misses are single digits of the day): the claim here is "from near 0 to well above it"; the
    # full demo's >= 0.8 is a benchmark figure (benchmarks/README.md), not an assertion.
    assert tm["tuned"] >= 0.4
    assert report["exact_match_ci"]["tuned"] >= tm["tuned"]
    # Within 16 tokens the base stops only now and then; the tuned model after every date.
    assert stop["tuned"] == 1.0 and stop["base"] < 0.9
    assert report["max_new_tokens"] == REDUCED["eval_max_new_tokens"]


def test_the_forgetting_probe_measures_a_real_base(demo_run):
    fg = json.loads((demo_run / "report.json").read_text())["forgetting"]
    # A real base predicts English prose far better than chance (a 49,152-token vocabulary): the
    # ratio is a statement about general ability, and the verdict says so without a caveat.
    assert 5 < fg["base_perplexity"] < 100 and fg["base_at_chance"] is False
    assert fg["ratio"] <= 1.3 and fg["level"] in ("none", "mild")
    assert "chance" not in fg["verdict"] and "inaugural address" in fg["verdict"]


def test_the_report_names_absolute_paths(demo_run):
    report = json.loads((demo_run / "report.json").read_text())
    assert Path(report["adapter"]).is_absolute() and Path(report["adapter"]).is_dir()
    assert Path(report["model_path"]).is_absolute()
    started = json.loads((demo_run / "events.jsonl").read_text().splitlines()[0])
    assert started["type"] == "started" and Path(started["run_dir"]).is_absolute()


def test_chat_with_the_tuned_model_stops_at_the_end_of_turn_token_on_its_own(demo_run):
    from tuneui.chat import ChatSession
    from tuneui.contract.loop import GenerationSettings

    session = ChatSession.load(demo_run)
    assert session.tokenizer.eos_token == "<|im_end|>"
    cap = 48
    # Dates the run never saw (another seed of the same generator).
    prompts = [row["messages"][-2:-1] for row in generate(3, seed=7)]
    for prompt in prompts:
        reply = session.reply(prompt, settings=GenerationSettings(max_new_tokens=cap))
        assert reply.finished and not reply.stopped, (prompt, reply)
        assert reply.tokens < cap and ISO.match(reply.text), (prompt, reply)


def test_the_tuneui_chat_command_on_the_tuned_model_stops_on_its_own(demo_run):
    """The same, through the command a user types: `tuneui chat RUN_DIR --prompt ... --json`."""
    cap = 48
    row = generate(1, seed=11)[0]["messages"]
    prompt, want = row[-2]["content"], row[-1]["content"]
    proc = subprocess.run([sys.executable, "-m", "tuneui", "chat", str(demo_run), "--prompt", prompt, "--json",
                           "--max-new-tokens", str(cap)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    tuned = json.loads(proc.stdout)["tuned"]
    assert tuned["finished"] and tuned["tokens"] < cap, tuned  # ended with <|im_end|>, not at the cap
    assert ISO.match(tuned["text"]), (prompt, want, tuned)


def test_a_merged_export_of_the_bf16_base_is_bf16(demo_run, tmp_path):
    from safetensors import safe_open

    from tuneui.contract.loop import ExportOptions
    from tuneui.export import export_run

    result = export_run(demo_run, tmp_path / "merged", ExportOptions(merge=True))
    weights = tmp_path / "merged" / "model.safetensors"
    with safe_open(str(weights), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
    # 134.5M parameters at 2 bytes (the tied embedding stored once), not 4.
    assert weights.stat().st_size < 300e6
    assert any("bfloat16 (the base model's own dtype" in n for n in result.notes)
