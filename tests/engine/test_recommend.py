"""The recommendation ladder across model sizes and GPUs, its reasons, and the RAG advice."""

from __future__ import annotations

import json

import pytest

from tuneui.contract.config import TECHNIQUES, RunConfig
from tuneui.hardware import GPUInfo, HardwareProfile, parse_gpus
from tuneui.models import info_from_config
from tuneui.recommend import recommend
from tuneui.recommend.advice import choose_seq_len, flops_per_token, rag_advice
from tuneui.recommend.ladder import QUALITY
from tuneui.recommend.shapes import REFERENCE_CONFIGS

SHAPES = REFERENCE_CONFIGS
SINGLE = ["1x8GiB", "1x12GiB", "1x16GiB", "1x24GiB", "1x48GiB", "1x80GiB"]
MODELS = {k: info_from_config(v, name=k) for k, v in SHAPES.items()}

# What a person should be told, seq 1024, target batch 16 (None: nothing fits).
EXPECTED = {
    ("0.5B", "1x8GiB"): "full", ("0.5B", "1x80GiB"): "full",
    ("7B", "1x8GiB"): "qlora", ("7B", "1x12GiB"): "lora_8bit", ("7B", "1x24GiB"): "lora",
    ("7B", "1x48GiB"): "full", ("7B", "1x80GiB"): "full", ("7B", "2x24GiB"): "lora",
    ("13B", "1x8GiB"): None, ("13B", "1x12GiB"): "qlora", ("13B", "1x80GiB"): "lora",
    ("70B", "1x24GiB"): None, ("70B", "1x48GiB"): None, ("70B", "1x80GiB"): "qlora", ("70B", "2x24GiB"): "qlora",
}


@pytest.fixture(scope="module")
def grid():
    return {(m, g): recommend(MODELS[m], parse_gpus(g), seq_len=1024)
            for m in MODELS for g in [*SINGLE, "2x24GiB"]}


def test_every_cell_is_a_valid_runnable_recommendation(grid):
    for (m, g), rec in grid.items():
        assert rec.technique in TECHNIQUES
        updates = rec.run_config_updates()
        cfg = RunConfig.from_dict({"model": "x", **updates})  # the wizard applies these as-is
        assert cfg.technique == rec.technique and cfg.max_seq_length == 1024
        assert rec.micro_batch_size * rec.gradient_accumulation_steps * rec.setup.num_gpus >= 16
        if rec.fits:
            assert rec.estimate.peak_bytes <= rec.budget_bytes, (m, g)
            assert rec.hardware_needed is None
        else:
            assert "QLoRA" in rec.hardware_needed and "GiB" in rec.hardware_needed
        techniques = {a.setup.technique for a in rec.alternatives}
        assert techniques == set(TECHNIQUES)
        assert sum(a.recommended for a in rec.alternatives) == 1
        assert any(a.setup.gradient_checkpointing for a in rec.alternatives)
        d = json.loads(json.dumps(rec.to_dict()))
        assert d["technique"] == rec.technique and d["run_config"] == updates
        assert all({"peak_bytes", "breakdown", "fits", "label"} <= set(a) for a in d["alternatives"])


@pytest.mark.parametrize("cell, technique", EXPECTED.items(), ids=[f"{m}-{g}" for m, g in EXPECTED])
def test_ladder_picks(grid, cell, technique):
    rec = grid[cell]
    assert (rec.technique if rec.fits else None) == technique, rec.setup.label


def test_more_memory_never_gives_a_worse_technique(grid):
    for m in MODELS:
        ranks = [QUALITY.index(grid[m, g].technique) if grid[m, g].fits else len(QUALITY) for g in SINGLE]
        assert ranks == sorted(ranks, reverse=True), (m, [grid[m, g].setup.label for g in SINGLE])
        peaks = [grid[m, g].estimate.peak_bytes for g in SINGLE]
        assert all(p > 0 for p in peaks)


def test_reasons_say_why_in_plain_words(grid):
    rec = grid["7B", "1x24GiB"]
    text = "\n".join(rec.reasons)
    assert "Full fine-tuning does not fit" in text and "LoRA" in text
    assert "Micro-batch" in text and "effective batch 16" in text and "Time: about" in text
    assert "estimate" in rec.time["text"]
    qlora = "\n".join(grid["7B", "1x8GiB"].reasons)
    assert "4-bit NF4" in qlora and "Gradient checkpointing on" in qlora
    sharded = grid["70B", "2x24GiB"]
    assert sharded.launch == {"strategy": "fsdp_full_shard", "num_processes": 2, "cpu_offload": True,
                              "mixed_precision": "bf16"}
    assert any("FSDP" in r for r in sharded.reasons) and any("CPU offload" in r for r in sharded.reasons)
    none = grid["70B", "1x8GiB"]
    assert none.reasons[0].startswith("Nothing fits") and "80 GiB" in none.hardware_needed


def test_small_datasets_prefer_lora_over_full():
    m, hw = MODELS["0.5B"], parse_gpus("1x80GiB")
    rec = recommend(m, hw, dataset_stats={"num_examples": 300, "tokens": {"p99": 400, "total": 60000}})
    assert rec.technique == "lora"
    assert any("300 examples" in r and "overfits" in r for r in rec.reasons)
    big = recommend(m, hw, dataset_stats={"num_examples": 50000, "tokens": {"p99": 400, "total": 6_000_000}})
    assert big.technique == "full" and big.max_seq_length == 512
    assert big.time["seconds_per_epoch"] > 0 and "per epoch" in big.time["text"]


def test_gpus_without_bf16_and_cpu_only_machines():
    t4 = recommend(MODELS["7B"], parse_gpus("T4"), seq_len=512)
    assert t4.precision == "fp16" and t4.technique in ("qlora", "lora_8bit")
    RunConfig.from_dict({"model": "x", **t4.run_config_updates()})
    cpu = HardwareProfile(accelerator="cpu", cpu_cores=4, ram_total_bytes=64 * 1024**3,
                          ram_available_bytes=60 * 1024**3)
    rec = recommend(MODELS["0.5B"], cpu, seq_len=512)
    assert rec.setup.optimizer == "adamw"  # full-precision AdamW when it fits: 8-bit is for memory, not speed
    # bitsandbytes' CPU backend runs 8-bit AdamW (what `tuneui doctor` checks and a CPU training test uses):
    # offered, never marked n/a; paging is a CUDA feature, so the paged variant is
    eight_bit = [a for a in rec.alternatives if a.setup.optimizer == "adamw_8bit" and not a.setup.cpu_offload]
    assert eight_bit and all(a.available for a in eight_bit)
    paged = [a for a in rec.alternatives if a.setup.optimizer == "paged_adamw_8bit"]
    assert paged and all(not a.available and "CUDA" in (a.why_unavailable or "") for a in paged)
    mps = HardwareProfile(accelerator="mps", gpus=[GPUInfo(0, "Apple M2 (MPS)", 16 * 1024**3, 16 * 1024**3,
                                                          bf16=True, backend="mps")])
    rec = recommend(MODELS["7B"], mps, seq_len=512)
    assert rec.technique not in ("qlora", "lora_8bit")


def test_sequence_length_from_token_statistics():
    m = MODELS["7B"]
    assert choose_seq_len(m, {"tokens": {"p99": 700, "max": 5000}}, None)[0] == 768
    seq, why = choose_seq_len(m, {"tokens": {"p99": 9000}}, None)
    assert seq == 4096  # the model's context
    assert "99%" in why
    assert choose_seq_len(m, None, 2048) == (2048, "sequence length 2048, as asked")
    assert choose_seq_len(m, None, 100000)[0] == 4096
    assert choose_seq_len(m, {"token_p95": 300}, None)[0] == 384


def test_flops_per_token_follow_6n_and_4n():
    m = MODELS["7B"]
    attn = 6 * m.num_layers * 1024 * 4096
    assert flops_per_token(m, "full", 1024, False, m.total_params) == 6 * m.total_params + attn
    lora = flops_per_token(m, "lora", 1024, False, 40_000_000)
    assert 4 * m.total_params < lora < 4.1 * m.total_params + attn
    assert flops_per_token(m, "lora", 1024, True, 40_000_000) > lora


@pytest.mark.parametrize("stats, expect", [
    ({"num_examples": 800, "format": "text", "tokens": {"mean": 3000}}, "RAG"),
    ({"num_examples": 5000, "format": "text", "tokens": {"mean": 200}}, "continued pre-training"),
    ({"num_examples": 20, "format": "alpaca", "tokens": {"mean": 200}}, "few-shot"),
    ({"num_examples": 2000, "format": "qa", "tokens": {"mean": 1200}}, "RAG"),
    ({"num_examples": 2000, "format": "messages", "assistant_turns": 2000, "tokens": {"mean": 300}}, None),
    (None, None),
])
def test_rag_advice(stats, expect):
    advice = rag_advice(stats)
    if expect is None:
        assert advice is None
    else:
        assert expect in advice
        assert "behaviour, style and format" in advice or "few-shot" in advice or "format" in advice


def test_rag_advice_reaches_the_recommendation():
    rec = recommend(MODELS["0.5B"], parse_gpus("1x24GiB"),
                    dataset_stats={"num_examples": 400, "format": "text", "tokens": {"mean": 2500, "p99": 4000}})
    assert rec.rag_advice and "RAG" in rec.rag_advice and rec.to_dict()["rag_advice"] == rec.rag_advice


def test_reads_the_data_inspect_json_object():
    inspect = {"format": {"name": "alpaca", "confidence": 1.0}, "examples": 12000,
               "lengths": {"unit": "words", "mean": 100, "max": 900, "total": 1_200_000,
                           "percentiles": {"p50": 80, "p99": 600}},
               "tokens": {"lengths": {"unit": "tokens", "mean": 140, "max": 1300, "total": 1_680_000,
                                      "percentiles": {"p50": 110, "p90": 300, "p95": 500, "p99": 830}}}}
    rec = recommend(MODELS["0.5B"], parse_gpus("1x24GiB"), dataset_stats=inspect)
    assert rec.max_seq_length == 896 and rec.time["tokens_per_epoch"] == 1_680_000 and rec.rag_advice is None
    words_only = {k: v for k, v in inspect.items() if k != "tokens"}
    assert recommend(MODELS["0.5B"], parse_gpus("1x24GiB"), dataset_stats=words_only).max_seq_length == 896


def test_the_tiny_random_model_gets_full_fine_tuning_even_on_small_data():
    """The small-data LoRA preference protects pretrained knowledge; the tiny random base has none."""
    from tuneui.hardware import parse_gpus
    from tuneui.models import inspect_model
    from tuneui.recommend import recommend

    rec = recommend(inspect_model("demo-tiny"), parse_gpus("cpu"), dataset_stats={"examples": 3991})
    assert rec.technique == "full"
    assert any("randomly initialised" in r for r in rec.reasons)


def test_the_real_demo_model_gets_lora_on_its_small_dataset():
    """The demo model is pretrained: on the demo's 1,000 conversations LoRA protects what it knows."""
    from tuneui.hardware import parse_gpus
    from tuneui.models import inspect_model
    from tuneui.recommend import recommend

    rec = recommend(inspect_model("demo"), parse_gpus("cpu"), dataset_stats={"examples": 1000})
    assert rec.technique == "lora"
    assert not any("randomly initialised" in r for r in rec.reasons)
