"""(Not a test module.) A tiny trained run directory, built once per session, for the chat/evaluate/export/sweep tests.

It is a real run directory (run.toml, data/, events.jsonl, adapter/) made with the real engine
pieces, trained for a few dozen optimizer steps in-process: a full `tuneui train` would spend most
of its time evaluating, which these tests exercise separately.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest

STEPS = 2


@functools.cache
def build_tiny_run(technique: str = "lora") -> Path:
    import torch

    from tuneui.contract import events as events_mod
    from tuneui.contract.config import RunConfig
    from tuneui.contract.events import EventWriter
    from tuneui.data import load_conversations
    from tuneui.demo import ensure_demo_model, sample_dataset_path
    from tuneui.modelload import load_tokenizer
    from tuneui.training.dataset import PaddingCollator, encode_all, write_split
    from tuneui.training.model_setup import build_model

    root = Path(tempfile.mkdtemp(prefix=f"tuneui-tiny-{technique}-"))
    run = root / f"tiny-{technique}"
    model_dir = ensure_demo_model()
    cfg = RunConfig(name=f"tiny-{technique}", model=str(model_dir), dataset=str(sample_dataset_path()),
                    technique=technique, lora_r=8, lora_alpha=16, max_seq_length=128, learning_rate=1e-4,
                    eval_max_examples=6, eval_max_new_tokens=8, freeze_trainable_layers=1, max_steps=STEPS)
    run.mkdir(parents=True)
    cfg.save(run / "run.toml")
    convs = load_conversations(str(sample_dataset_path()))
    train, val = convs[:4], convs[24:30]
    write_split(run / "data", train, val, {"loaded": len(convs), "train": len(train), "val": len(val)})
    tok = load_tokenizer(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, tok)
    # LoRA starts as a no-op (B = 0), and a random-init base learns slowly: a few steps from zero
    # would leave an adapter that barely changes the output. Start B random so tuned != base.
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.3)
    examples, _ = encode_all(tok, train, cfg.max_seq_length)
    batch = PaddingCollator(tok.pad_token_id)(examples)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    events = EventWriter(run)
    events.emit(events_mod.Started(step=0, technique=technique, model=cfg.model, total_steps=STEPS))
    model.train()
    for step in range(1, STEPS + 1):
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        events.emit(events_mod.Step(step=step, loss=loss.item(), lr=cfg.learning_rate))
    model.eval()
    model.save_pretrained(run / "adapter", safe_serialization=True)
    tok.save_pretrained(run / "adapter")
    events.emit(events_mod.Finished(step=STEPS, train_loss=loss.item(), eval_loss=loss.item(), adapter_path=str(run / "adapter")))
    (run / "report.json").write_text(json.dumps({"train_loss": loss.item(), "steps": STEPS, "wall_time_s": 1.0}))
    return run


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    return build_tiny_run("lora")


@pytest.fixture(scope="session")
def tiny_full_run() -> Path:
    return build_tiny_run("freeze")

