"""Padding-free packing must give the same loss as padded batches: examples never see each other."""

from __future__ import annotations

import json

import pytest

from tuneui.contract.config import RunConfig
from tuneui.evaluate import eval_loss
from tuneui.modelload import load_tokenizer
from tuneui.training.dataset import PackingCollator, PaddingCollator, encode_all
from tuneui.training.model_setup import build_model


@pytest.fixture(scope="module")
def model_and_examples(demo_model_dir):
    from tuneui.demo import sample_dataset_path

    cfg = RunConfig(model=str(demo_model_dir), technique="full")
    tok = load_tokenizer(cfg)
    model = build_model(cfg, tok)
    lines = sample_dataset_path().read_text().splitlines()[:12]
    examples, _ = encode_all(tok, [json.loads(line)["messages"] for line in lines], 256)
    return model, tok, examples


def test_packed_loss_equals_padded_loss(model_and_examples):
    model, tok, examples = model_and_examples
    model.train()  # the training path: the bug this guards against only showed with a KV cache around
    packed = eval_loss(model, examples, PackingCollator(), batch_size=6)
    padded = eval_loss(model, examples, PaddingCollator(tok.pad_token_id), batch_size=6)
    single = eval_loss(model, examples, PaddingCollator(tok.pad_token_id), batch_size=1)
    assert packed == pytest.approx(single, rel=1e-5)
    assert padded == pytest.approx(single, rel=1e-5)


def test_packing_spends_no_tokens_on_padding(model_and_examples):
    _, tok, examples = model_and_examples
    batch = PackingCollator()(examples[:6])
    assert batch["input_ids"].shape == (1, sum(len(e["input_ids"]) for e in examples[:6]))
    assert (batch["input_ids"] == tok.pad_token_id).sum() == 0
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert len(starts) == 6
    assert all(batch["labels"][0, s] == -100 for s in starts)
    padded = PaddingCollator(tok.pad_token_id)(examples[:6])
    assert padded["input_ids"].numel() > batch["input_ids"].numel()
