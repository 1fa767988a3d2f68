"""The environment check: each verdict from made-up facts, plus one real probe of this machine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tuneui import envcheck
from tuneui.envcheck import GIB, Check, TorchFacts, judge_bitsandbytes, judge_disk, judge_torch

CPU_TORCH = TorchFacts(version="2.13.0+cpu")
CUDA_TORCH = TorchFacts(version="2.13.0+cu128", cuda_build="12.8", cuda_available=True, device_names=("NVIDIA H100",))


def by_key(checks: list[Check]) -> dict[str, Check]:
    return {c.key: c for c in checks}


def test_no_torch_no_gpu_suggests_the_cpu_wheel() -> None:
    checks = by_key(judge_torch(TorchFacts(version=None, error="ModuleNotFoundError: torch"), None))
    assert checks["torch"].status == "missing"
    assert checks["torch"].fix.endswith("install torch --index-url https://download.pytorch.org/whl/cpu")
    assert "gpu" not in checks


def test_no_torch_with_gpu_suggests_the_wheel_for_the_driver() -> None:
    (check,) = judge_torch(TorchFacts(version=None, error="x"), "12.6")
    assert check.fix.endswith("--index-url https://download.pytorch.org/whl/cu126")


def test_cpu_torch_on_a_gpu_machine_is_missing_cuda() -> None:
    gpu = by_key(judge_torch(CPU_TORCH, "12.9"))["gpu"]
    assert gpu.status == "missing"
    assert "CPU-only build" in gpu.detail
    assert "--force-reinstall torch --index-url https://download.pytorch.org/whl/cu128" in gpu.fix


def test_driver_too_old_says_update_the_driver() -> None:
    gpu = by_key(judge_torch(CPU_TORCH, "11.4"))["gpu"]
    assert gpu.status == "missing" and "driver" in gpu.fix


def test_cuda_torch_without_a_visible_gpu() -> None:
    facts = TorchFacts(version="2.13.0+cu128", cuda_build="12.8", cuda_available=False)
    gpu = by_key(judge_torch(facts, None))["gpu"]
    assert gpu.status == "missing" and gpu.fix.startswith("nvidia-smi")


def test_working_cuda_and_cpu_only_verdicts() -> None:
    assert by_key(judge_torch(CUDA_TORCH, "12.8"))["gpu"].status == "ok"
    assert "NVIDIA H100" in by_key(judge_torch(CUDA_TORCH, "12.8"))["gpu"].detail
    cpu = by_key(judge_torch(CPU_TORCH, None))["gpu"]
    assert cpu.status == "warn" and cpu.fix is None


def test_bitsandbytes_verdicts() -> None:
    assert judge_bitsandbytes(None, torch_ok=True).status == "ok"
    broken = judge_bitsandbytes("RuntimeError: no kernel", torch_ok=True)
    assert broken.status == "warn" and broken.fix.endswith("install --upgrade bitsandbytes")
    assert "LoRA and full fine-tuning still work" in broken.detail
    assert judge_bitsandbytes(None, torch_ok=False).detail.startswith("Not checked")


@pytest.mark.parametrize(("free_gib", "status"), [(0.5, "missing"), (10, "warn"), (200, "ok")])
def test_disk_thresholds(free_gib: float, status: str, tmp_path: Path) -> None:
    check = judge_disk(tmp_path, int(free_gib * GIB))
    assert check.status == status
    assert str(tmp_path) in check.detail
    assert (check.fix is None) == (status == "ok")


def test_wheel_tags_follow_the_driver() -> None:
    assert envcheck.cuda_wheel_tag("13.1") == "cu130"
    assert envcheck.cuda_wheel_tag("12.8") == "cu128"
    assert envcheck.cuda_wheel_tag("12.6") == "cu126"
    assert envcheck.cuda_wheel_tag("12.2") is None
    assert envcheck.cuda_wheel_tag("garbage") is None


@pytest.mark.parametrize(
    ("receipt", "start"),
    [("pipx_metadata.json", "pipx runpip tuneui install "), ("uv-receipt.toml", "uv pip install --python "),
     (None, None)],
)
def test_install_command_matches_how_tuneui_was_installed(receipt, start, tmp_path: Path, monkeypatch) -> None:
    prefix = tmp_path / "tuneui"
    prefix.mkdir()
    if receipt:
        (prefix / receipt).write_text("{}")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    command = envcheck.pip_install("torch")
    assert command.startswith(start or f"{sys.executable} -m pip install ")
    assert command.endswith(" torch")


def test_full_check_with_fakes_keeps_the_screen_order(tmp_path: Path) -> None:
    checks = envcheck.check_environment(
        tmp_path / "not-yet" / "runs",
        torch_probe=lambda: CPU_TORCH, driver_probe=lambda: None, bnb_probe=lambda: None,
    )
    assert [c.key for c in checks] == ["torch", "gpu", "bitsandbytes", "disk"]
    assert envcheck.summary(checks) == "Ready, with notes below."
    missing = [Check("torch", "PyTorch", "missing", "x", "pip install torch")]
    assert envcheck.summary(missing).startswith("Missing: PyTorch.")


def test_real_probes_on_this_machine(tmp_path: Path) -> None:
    """The test machine has CPU torch and bitsandbytes that quantises on CPU."""
    facts = envcheck.probe_torch()
    assert facts.version is not None and facts.version.startswith(__import__("torch").__version__)
    assert envcheck.probe_bitsandbytes() is None
    assert envcheck.check_disk(tmp_path / "a" / "b").key == "disk"
