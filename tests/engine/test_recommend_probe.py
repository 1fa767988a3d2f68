"""Estimate, then verify: real optimizer steps on the tiny demo model, and the step-down ladder."""

from __future__ import annotations

import pytest

from tuneui.contract.config import RunConfig
from tuneui.hardware import HardwareProfile
from tuneui.training.fit_probe import setup_from_config, step_down, verify_fit

GiB = 1024**3


def cpu_box(ram_gib: float = 16) -> HardwareProfile:
    return HardwareProfile(accelerator="cpu", cpu_cores=2, ram_total_bytes=int(ram_gib * GiB),
                           ram_available_bytes=int(ram_gib * GiB))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    # one demo-model build shared by the probe tests
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNEUI_HOME", str(tmp_path_factory.mktemp("home")))
        yield


def test_probe_measures_real_steps_close_to_the_estimate(home):
    cfg = RunConfig(model="demo-tiny", technique="lora", micro_batch_size=2, gradient_accumulation_steps=2,
                    max_seq_length=128)
    res = verify_fit(cfg, cpu_box(), steps=2)
    assert res.device == "cpu" and not res.oom and res.error is None
    assert res.measured_bytes > 0 and res.fits
    # tiny model on CPU: the estimate must still be in the right place
    assert -0.15 <= res.error_ratio <= 0.25, res.summary()
    d = res.to_dict()
    assert d["summary"].startswith("measured") and d["estimated_bytes"] == res.estimated_bytes


def test_probe_says_no_when_the_budget_is_too_small(home):
    cfg = RunConfig(model="demo-tiny", technique="full", micro_batch_size=1, max_seq_length=32,
                    gradient_checkpointing=True)
    res = verify_fit(cfg, cpu_box(ram_gib=0.001), steps=2)
    assert res.measured_bytes and not res.fits and "does not fit" in res.summary()
    assert -0.15 <= res.error_ratio <= 0.25, res.summary()


def test_setup_from_config_resolves_auto_precision_like_the_runner():
    cfg = RunConfig(model="demo-tiny", technique="qlora", packing=False, lora_r=8, micro_batch_size=3)
    s = setup_from_config(cfg, cpu_box())
    assert (s.technique, s.precision, s.padded, s.lora_r, s.micro_batch_size, s.device) == (
        "qlora", "fp32", True, 8, 3, "cpu")


def test_step_down_order():
    cfg = RunConfig(model="demo-tiny", technique="full", micro_batch_size=4, gradient_accumulation_steps=2)
    seen = []
    while cfg is not None:
        seen.append((cfg.technique, cfg.micro_batch_size, cfg.gradient_accumulation_steps,
                     cfg.gradient_checkpointing, cfg.optimizer))
        cfg = step_down(cfg)
    assert seen == [
        ("full", 4, 2, False, "adamw"), ("full", 2, 4, False, "adamw"), ("full", 1, 8, False, "adamw"),
        ("full", 1, 8, True, "adamw"), ("full", 1, 8, True, "adamw_8bit"), ("lora", 1, 8, True, "adamw_8bit"),
        ("qlora", 1, 8, True, "adamw_8bit"),
    ]


def test_step_down_on_cpu_skips_8bit_optimizers_and_sgd_becomes_adamw():
    cfg = RunConfig(model="demo-tiny", technique="full", micro_batch_size=1, gradient_checkpointing=True,
                    optimizer="sgd")
    nxt = step_down(cfg, cpu_box())
    assert nxt.technique == "lora" and nxt.optimizer == "adamw"
    cfg = RunConfig(model="demo-tiny", technique="full", micro_batch_size=1, gradient_checkpointing=True)
    assert step_down(cfg, cpu_box()).technique == "lora"


def test_fit_config_steps_down_until_the_probe_fits(monkeypatch):
    from tuneui.training import fit_probe as probe_mod

    calls = []

    def fake_verify(cfg, hardware=None, *, steps=3):
        calls.append((cfg.micro_batch_size, cfg.gradient_checkpointing))
        fits = cfg.gradient_checkpointing
        return probe_mod.ProbeResult(fits=fits, measured_bytes=100, reserved_bytes=None, estimated_bytes=100,
                                     estimated_peak_bytes=100, budget_bytes=100 if fits else 50, device="cpu",
                                     steps=steps, seconds=0.0)

    monkeypatch.setattr(probe_mod, "verify_fit", fake_verify)
    seen = []
    cfg = RunConfig(model="demo-tiny", technique="lora", micro_batch_size=2)
    fitted, results = probe_mod.fit_config(cfg, cpu_box(), on_result=lambda c, r: seen.append(r.fits))
    assert calls == [(2, False), (1, False), (1, True)] and seen == [False, False, True]
    assert fitted.gradient_checkpointing and fitted.gradient_accumulation_steps == 2 and len(results) == 3
    monkeypatch.setattr(probe_mod, "verify_fit", lambda *a, **k: fake_verify(cfg))  # never fits
    assert probe_mod.fit_config(cfg, cpu_box(), max_attempts=3)[0] is None
