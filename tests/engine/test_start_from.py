"""start_from: a DPO run that starts from a finished LoRA SFT run (tiny demo model, CPU, two steps each)
loads that run's adapter merged into its base, trains on it, reuses the merged folder when resumed, and
names what is wrong with a bad start_from in one line."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tuneui.contract.config import RunConfig
from tuneui.contract.errors import ConfigError
from tuneui.contract.events import read_events

PAIRS = Path(__file__).parents[1] / "data" / "real" / "preference" / "llamafactory-v1-dpo-content-parts-value.jsonl"
TINY = dict(model="demo-tiny", clean=False, technique="lora", lora_r=8, learning_rate=5e-3, micro_batch_size=4,
            max_steps=2, logging_steps=1, eval_steps=0, save_steps=0, warmup_ratio=0.0, eval_max_examples=8,
            max_seq_length=160, seed=7)


def _state(model) -> dict:
    return {k: v.detach().float().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory, demo_model_dir) -> Path:
    from tuneui.training.runner import run_training

    run_dir = tmp_path_factory.mktemp("start_from") / "sft"
    assert run_training(RunConfig(**TINY, dataset="demo-tiny", name="sft"), run_dir) == 0
    return run_dir


@pytest.mark.slow
def test_a_dpo_run_starts_from_the_merged_sft_model_and_trains(sft_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from tuneui.modelload import load_tokenizer, resolve_model
    from tuneui.runload import load_tuned, locate
    from tuneui.training.runner import run_training
    from tuneui.training.start_from import resolve

    cfg = RunConfig(**TINY, dataset=str(PAIRS), objective="dpo", start_from=str(sft_run), name="dpo")
    run_dir = tmp_path / "dpo"
    assert run_training(cfg, run_dir) == 0
    report = json.loads((run_dir / "report.json").read_text())
    merged_dir = run_dir / "start_model"
    assert report["start_from"] == {"run": str(sft_run.resolve()), "kind": "peft", "model_path": str(merged_dir)}
    assert report["model_path"] == str(merged_dir) and report["steps"] == 2
    losses = [e.loss for e in read_events(run_dir) if e.type == "step"]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert RunConfig.load(run_dir).start_from == str(sft_run)  # run.toml says where it started

    # The SFT model, merged independently: base + adapter in fp32, as an export with --merge does.
    sft = load_tuned(locate(sft_run), dtype=torch.float32).merge_and_unload()
    expected = _state(sft)
    raw = _state(AutoModelForCausalLM.from_pretrained(resolve_model("demo-tiny"), dtype=torch.float32))
    assert any(not torch.equal(expected[k], raw[k]) for k in expected)  # the SFT run did change the model
    # The DPO run's base, as chat/evaluation/export load it: its adapter switched off is the SFT model.
    dpo = load_tuned(locate(run_dir), dtype=torch.float32)
    assert locate(run_dir).base_model == str(merged_dir)
    with dpo.disable_adapter():
        base = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                for k, v in _state(dpo).items() if "lora_" not in k}
    assert base.keys() == expected.keys()
    assert all(torch.equal(base[k], expected[k]) for k in expected)
    trained = [v for k, v in _state(dpo).items() if "lora_B" in k]
    assert any(v.abs().sum() > 0 for v in trained)  # the DPO adapter learnt something on top

    # Resumed for one more step: the merged folder is reused, not merged again, and training goes on from
    # the checkpoint on the same base.
    inode = merged_dir.stat().st_ino
    assert run_training(cfg.updated(max_steps=3), run_dir, resume=True) == 0
    assert merged_dir.stat().st_ino == inode
    resumed = json.loads((run_dir / "report.json").read_text())
    assert resumed["steps"] == 3 and resumed["start_from"] == report["start_from"]
    merges = [e for e in read_events(run_dir) if e.type == "preparing" and "merging" in e.message]
    assert len(merges) == 1  # the first start's, in the events file both starts append to
    # A resumed run keeps the run it started from: another finished run is refused.
    other = shutil.copytree(sft_run, tmp_path / "other-sft")
    with pytest.raises(ConfigError, match="^start_from: this run started from"):
        resolve(cfg.updated(start_from=str(other)), run_dir, load_tokenizer(cfg))


def test_bad_start_from_is_one_line_naming_the_field(sft_run, tmp_path):
    from tuneui.training.start_from import source_run

    def problem(start: Path, **kw) -> str:
        with pytest.raises(ConfigError) as err:
            source_run(RunConfig(**(TINY | kw), dataset=str(PAIRS), objective="dpo", start_from=str(start)),
                       tmp_path / "new")
        assert "\n" not in str(err.value)
        return str(err.value)

    assert problem(tmp_path).startswith("start_from: ") and "not a run directory" in problem(tmp_path)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(sft_run / "run.toml", unfinished / "run.toml")
    assert "has not finished" in problem(unfinished)
    assert "was trained on model 'demo-tiny'" in problem(sft_run, model=str(tmp_path))
    with pytest.raises(ConfigError, match="this run's own directory"):
        source_run(RunConfig(**TINY, dataset=str(PAIRS), start_from=str(sft_run)), sft_run)


def test_a_run_with_another_chat_template_is_refused(sft_run, tmp_path):
    from tuneui.modelload import load_tokenizer
    from tuneui.runload import load_tokenizer_for, locate
    from tuneui.training.start_from import check_tokenizer

    other = tmp_path / "other"
    shutil.copytree(sft_run, other)
    tok = load_tokenizer_for(locate(other))
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tok.save_pretrained(other / "adapter")
    cfg = RunConfig(**TINY, dataset=str(PAIRS), objective="dpo", start_from=str(other))
    with pytest.raises(ConfigError, match="^start_from: .*different chat template"):
        check_tokenizer(locate(other), load_tokenizer(cfg))
    check_tokenizer(locate(sft_run), load_tokenizer(cfg))  # the run's own tokenizer passes


@pytest.mark.slow
def test_a_headless_run_with_a_bad_start_from_fails_in_one_line_before_training(tmp_path):
    from tuneui.training.runner import run_training

    cfg = RunConfig(**TINY, dataset=str(PAIRS), objective="dpo", start_from=str(tmp_path / "nowhere"))
    assert run_training(cfg, tmp_path / "run") == 2
    failed = [e for e in read_events(tmp_path / "run") if e.type == "failed"]
    assert len(failed) == 1 and failed[0].reason.startswith("start_from: ") and failed[0].step == 0


@pytest.mark.slow
def test_a_run_starts_from_a_full_fine_tune_by_loading_its_model_folder(tmp_path):
    from tuneui.runload import locate
    from tuneui.training.runner import run_training

    full = tmp_path / "freeze"
    tiny = TINY | {"technique": "freeze", "freeze_trainable_layers": 1, "max_steps": 1}
    assert run_training(RunConfig(**tiny, dataset="demo-tiny", name="freeze"), full) == 0
    run_dir = tmp_path / "dpo"
    cfg = RunConfig(**(TINY | {"max_steps": 1}), dataset=str(PAIRS), objective="dpo", start_from=str(full))
    assert run_training(cfg, run_dir) == 0
    record = json.loads((run_dir / "report.json").read_text())["start_from"]
    # A full/freeze run's adapter/ is a whole model: loaded where it is, nothing merged or copied.
    assert record == {"run": str(full.resolve()), "kind": "full", "model_path": str((full / "adapter").resolve())}
    assert not (run_dir / "start_model").exists() and locate(run_dir).base_model == record["model_path"]
