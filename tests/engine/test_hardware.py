"""The hardware probe on faked machines, and the what-if --gpus parser."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tuneui.contract.errors import TuneuiError
from tuneui.hardware import GiB, GPUInfo, MiB, parse_gpus, parse_nvidia_smi, probe


def smi(text: str, *, reject_compute_cap: bool = False):
    calls: list[list[str]] = []

    def run(argv: list[str]) -> str:
        calls.append(argv)
        if reject_compute_cap and any("compute_cap" in a for a in argv):
            raise RuntimeError('Field "compute_cap" is not a valid field to query.')
        return text

    run.calls = calls  # type: ignore[attr-defined]
    return run


def no_smi(argv: list[str]) -> str:
    raise FileNotFoundError("nvidia-smi")


def cpu_only(warnings: list[str]):
    return "cpu", []


def test_no_gpu_machine_is_cpu_only(tmp_path):
    prof = probe(tmp_path, run=no_smi, torch_probe=cpu_only)
    assert prof.accelerator == "cpu" and prof.gpus == [] and prof.num_gpus == 0
    assert prof.gpu_memory_bytes == 0 and prof.bf16 is False
    assert prof.cpu_cores >= 1 and prof.ram_total_bytes > 0
    assert prof.disk_free_bytes and prof.disk_path == str(tmp_path)
    assert "CPU only" in prof.summary()
    json.dumps(prof.to_dict())


def test_one_gpu():
    run = smi("0, NVIDIA GeForce RTX 4090, 24564, 23000, 8.9, 550.54.14\n")
    prof = probe(run=run, torch_probe=lambda w: pytest.fail("torch must not be asked when nvidia-smi answers"))
    assert prof.source == "nvidia-smi" and prof.accelerator == "cuda" and prof.driver_version == "550.54.14"
    (g,) = prof.gpus
    assert g.name == "NVIDIA GeForce RTX 4090" and g.total_bytes == 24564 * MiB and g.free_bytes == 23000 * MiB
    assert g.compute_capability == "8.9" and g.bf16 and g.tflops == 165
    assert prof.gpu_memory_bytes == 23000 * MiB


def test_several_gpus_plan_on_the_smallest_free():
    run = smi("0, NVIDIA A100-SXM4-80GB, 81920, 80000, 8.0, 535.1\n"
              "1, NVIDIA A100-SXM4-80GB, 81920, 40000, 8.0, 535.1\n")
    prof = probe(run=run, torch_probe=cpu_only)
    assert prof.num_gpus == 2 and prof.gpu_memory_bytes == 40000 * MiB
    assert prof.summary().startswith("2x NVIDIA A100-SXM4-80GB")


def test_old_driver_without_compute_cap_falls_back_and_infers_from_name():
    run = smi("0, Tesla T4, 15360, 15000\n", reject_compute_cap=True)
    prof = probe(run=run, torch_probe=cpu_only)
    assert len(run.calls) == 2  # asked again without compute_cap
    (g,) = prof.gpus
    assert g.compute_capability == "7.5" and g.bf16 is False  # T4: no bf16


def test_odd_nvidia_smi_output_never_crashes():
    text = ("garbage line without commas\n"
            "0, NVIDIA A100 80GB PCIe MIG 3g.40gb, [N/A], [N/A], 8.0, 535\n"
            "1, Mystery GPU, [Not Supported], [N/A], [N/A], [N/A]\n"
            "x, NVIDIA L4, 23034, 22000, 8.9, 535\n\n")
    prof = probe(run=smi(text), torch_probe=cpu_only)
    names = [g.name for g in prof.gpus]
    assert names == ["NVIDIA A100 80GB PCIe MIG 3g.40gb", "NVIDIA L4"]
    assert prof.gpus[0].total_bytes == 80 * GiB  # size assumed from the name, with a warning
    assert any("unreadable" in w for w in prof.warnings)
    assert any("Mystery GPU" in w and "ignored" in w for w in prof.warnings)
    assert any("assuming 80 GiB" in w for w in prof.warnings)


def test_broken_driver_falls_back_to_torch_with_a_warning():
    def broken(argv):
        raise RuntimeError("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver")

    def torch_says(warnings):
        return "rocm", [GPUInfo(0, "AMD Instinct MI300X", 192 * GiB, 190 * GiB, "gfx942", True, "rocm")]

    prof = probe(run=broken, torch_probe=torch_says)
    assert prof.accelerator == "rocm" and prof.source == "torch" and prof.gpus[0].backend == "rocm"
    assert any("nvidia-smi failed" in w for w in prof.warnings)


def test_a_hung_nvidia_smi_is_asked_once():
    calls = []

    def hung(argv):
        calls.append(argv)
        raise subprocess.TimeoutExpired(argv, 10)

    prof = probe(run=hung, torch_probe=cpu_only)
    assert len(calls) == 1 and any("did not answer" in w for w in prof.warnings)


def test_a_probe_that_blows_up_still_returns_a_profile():
    def explode(warnings):
        raise MemoryError("odd machine")

    prof = probe(run=no_smi, torch_probe=explode)
    assert prof.accelerator == "cpu" and any("hardware probe failed" in w for w in prof.warnings)


def test_probe_does_not_import_torch_when_nvidia_smi_answers():
    code = ("import sys\nfrom tuneui.hardware import probe\n"
            "p = probe(run=lambda argv: '0, NVIDIA H100 80GB HBM3, 81559, 81000, 9.0, 550\\n')\n"
            "assert p.num_gpus == 1, p\nprint('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_parse_nvidia_smi_directly():
    warnings: list[str] = []
    gpus, driver = parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 81559, 1024, 9.0, 550.1\n", warnings)
    assert gpus[0].free_bytes == 1024 * MiB and gpus[0].tflops == 989 and driver == "550.1" and not warnings


@pytest.mark.parametrize("spec, n, gib, bf16", [
    ("1x24GiB", 1, 24, True), ("2x80GiB", 2, 80, True), ("24GB", 1, 24, True), ("8x 40g", 8, 40, True),
    ("1x16384MiB", 1, 16, True), ("A100-80GB", 1, 80, True), ("A100-40GB", 1, 40, True), ("2xH100", 2, 80, True),
    ("4090", 1, 24, True), ("T4", 1, 16, False), ("L40S", 1, 48, True), ("L4", 1, 24, True),
    ("H100x4", 4, 80, True), ("cpu", 0, 0, False),
])
def test_what_if_specs(spec, n, gib, bf16):
    prof = parse_gpus(spec)
    assert prof.num_gpus == n and prof.source == "what-if" and prof.what_if == spec
    assert prof.gpu_memory_bytes == gib * GiB
    assert prof.bf16 is bf16
    if n:
        assert prof.gpus[0].free_bytes == prof.gpus[0].total_bytes  # planning assumes an empty card


@pytest.mark.parametrize("spec", ["lots", "", "0x24GiB", "2x", "GTX-potato", "-1x8GiB"])
def test_bad_spec_names_the_spec(spec):
    with pytest.raises(TuneuiError) as err:
        parse_gpus(spec)
    assert f"--gpus {spec!r}" in str(err.value)
