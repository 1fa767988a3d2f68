"""The first-run environment check: what is missing, in plain words, and the one command that fixes it.

Checks: PyTorch importable; a GPU torch can use (or why not, and the right wheel for the driver);
bitsandbytes actually quantising (needed for QLoRA and 8-bit); free disk where runs are written.
Probing is separated from judging so every verdict is unit-tested with made-up facts.
Importing torch takes seconds: the UI calls `check_environment()` from a worker thread.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuneui.contract.environment import Check, Status, summary  # noqa: F401 - callers read them here too

GIB = 1024**3
MIN_FREE_GIB = 2.0  # below this a run cannot even save a checkpoint of the demo
LOW_FREE_GIB = 20.0  # below this a 7B LoRA run (base download + checkpoints) will not fit
TORCH_INDEX = "https://download.pytorch.org/whl"


@dataclass(frozen=True)
class TorchFacts:
    version: str | None  # None: torch does not import
    error: str | None = None
    cuda_build: str | None = None  # torch.version.cuda; None for CPU builds
    cuda_available: bool = False
    device_names: tuple[str, ...] = ()
    mps_available: bool = False


def pip_install(*args: str) -> str:
    """The install command for the environment tuneui runs in (pipx, uv tool, or a venv)."""
    prefix = Path(sys.prefix)
    # pipx and uv leave a receipt in each environment they manage.
    if (prefix / "pipx_metadata.json").exists():
        base = ["pipx", "runpip", prefix.name, "install"]
    elif (prefix / "uv-receipt.toml").exists():
        base = ["uv", "pip", "install", "--python", sys.executable]
    else:
        base = [sys.executable, "-m", "pip", "install"]
    return shlex.join(base + list(args))


def cuda_wheel_tag(driver_cuda: str) -> str | None:
    """The PyTorch wheel variant a driver supporting CUDA `driver_cuda` can run."""
    try:
        major, minor = (int(x) for x in driver_cuda.split(".")[:2])
    except ValueError:
        return None
    for tag, need in (("cu130", (13, 0)), ("cu128", (12, 8)), ("cu126", (12, 6))):
        if (major, minor) >= need:
            return tag
    return None


def probe_torch() -> TorchFacts:
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install raising OSError
        return TorchFacts(version=None, error=f"{type(exc).__name__}: {exc}")
    cuda = bool(torch.cuda.is_available())
    names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else ()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return TorchFacts(
        version=str(torch.__version__),
        cuda_build=torch.version.cuda,
        cuda_available=cuda,
        device_names=names,
        mps_available=mps,
    )


def probe_nvidia_driver() -> str | None:
    """CUDA version the NVIDIA driver supports ("12.4"), "" if a GPU is there but unreadable, else None."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "" if Path("/proc/driver/nvidia/version").exists() else None
    try:
        out = subprocess.run([smi], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"CUDA Version:\s*(\d+\.\d+)", out)
    return match.group(1) if match else ""


def judge_torch(facts: TorchFacts, driver_cuda: str | None) -> list[Check]:
    tag = cuda_wheel_tag(driver_cuda) if driver_cuda else None
    index = f"{TORCH_INDEX}/{tag or 'cpu'}"
    if facts.version is None:
        if driver_cuda is not None and tag is None:
            hint = " (install a current NVIDIA driver first for GPU training)"
        else:
            hint = ""
        return [Check("torch", "PyTorch", "missing",
                      f"PyTorch is not installed or does not import ({facts.error}){hint}.",
                      pip_install("torch", "--index-url", index))]
    checks = [Check("torch", "PyTorch", "ok", f"PyTorch {facts.version} imports.")]
    if facts.cuda_available:
        gpus = ", ".join(facts.device_names) or "a CUDA GPU"
        checks.append(Check("gpu", "GPU", "ok", f"Training runs on {gpus} (CUDA {facts.cuda_build})."))
    elif facts.mps_available:
        checks.append(Check("gpu", "GPU", "ok", "Training runs on the Apple GPU (MPS); QLoRA is not available there."))
    elif driver_cuda is not None and facts.cuda_build is None:
        if tag is None:
            checks.append(Check("gpu", "GPU", "missing",
                                "This machine has an NVIDIA GPU, but its driver is too old for current "
                                "PyTorch builds (CUDA 12.6 or newer is needed).",
                                "install a current NVIDIA driver (https://www.nvidia.com/drivers), then run tuneui again"))
        else:
            checks.append(Check("gpu", "GPU", "missing",
                                "This machine has an NVIDIA GPU, but the installed PyTorch is the CPU-only "
                                "build, so training would run on the CPU.",
                                pip_install("--force-reinstall", "torch", "--index-url", index)))
    elif facts.cuda_build is not None:
        checks.append(Check("gpu", "GPU", "missing",
                            f"PyTorch is built for CUDA {facts.cuda_build} but sees no GPU: the NVIDIA "
                            "driver is missing, too old, or the GPU is not visible to this process.",
                            "nvidia-smi  # must list your GPU; if it fails, (re)install the NVIDIA driver"))
    else:
        checks.append(Check("gpu", "GPU", "warn",
                            "No GPU found: training runs on the CPU. Fine for the demo and tiny models; "
                            "real models want a CUDA GPU (or use `tuneui serve` on a GPU machine)."))
    return checks


def probe_bitsandbytes() -> str | None:
    """None when 4-bit quantisation round-trips on this machine, else what went wrong."""
    try:
        import torch

        # bitsandbytes logs optional-kernel notices on import; the verdict below says what matters.
        level = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            import bitsandbytes.functional as bnbf
        finally:
            logging.disable(level)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        x = torch.randn(64, 64, device=device)
        q, state = bnbf.quantize_4bit(x, quant_type="nf4")
        y = bnbf.dequantize_4bit(q, state)
        if not torch.isfinite(y).all() or (x - y).abs().mean() > 0.5:
            return "4-bit quantisation gives wrong numbers"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return None


def judge_bitsandbytes(error: str | None, torch_ok: bool) -> Check:
    title = "bitsandbytes"
    if not torch_ok:
        return Check("bitsandbytes", title, "warn", "Not checked: it needs PyTorch first.")
    if error is None:
        return Check("bitsandbytes", title, "ok", "4-bit and 8-bit quantisation work (QLoRA, 8-bit optimisers).")
    return Check("bitsandbytes", title, "warn",
                 f"bitsandbytes does not work here ({error}); QLoRA and 8-bit training are unavailable, "
                 "LoRA and full fine-tuning still work.",
                 pip_install("--upgrade", "bitsandbytes"))


def _existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def judge_disk(path: Path, free_bytes: int) -> Check:
    free = free_bytes / GIB
    where = f"{free:.1f} GiB free in {path}"
    fix = "tuneui settings set output_dir /a/disk/with/more/space"
    if free < MIN_FREE_GIB:
        return Check("disk", "Disk space", "missing",
                     f"Only {where}: not enough to save a checkpoint.", fix)
    if free < LOW_FREE_GIB:
        return Check("disk", "Disk space", "warn",
                     f"{where}: enough for the demo and small models; a 7B model needs about 20 GiB.", fix)
    return Check("disk", "Disk space", "ok", f"{where}.")


def check_disk(path: Path) -> Check:
    return judge_disk(path, shutil.disk_usage(_existing(path)).free)


def check_environment(
    runs_dir: Path | None = None,
    *,
    torch_probe: Callable[[], TorchFacts] = probe_torch,
    driver_probe: Callable[[], str | None] = probe_nvidia_driver,
    bnb_probe: Callable[[], str | None] = probe_bitsandbytes,
) -> list[Check]:
    """All checks, in the order the first-run screen shows them."""
    if runs_dir is None:
        from tuneui.contract.settings import runs_root

        runs_dir = runs_root()
    facts = torch_probe()
    checks = judge_torch(facts, driver_probe())
    torch_ok = facts.version is not None
    checks.append(judge_bitsandbytes(bnb_probe() if torch_ok else None, torch_ok))
    checks.append(check_disk(runs_dir))
    return checks
