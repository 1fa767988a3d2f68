"""What machine are we on (or planning for)? GPUs, CPU, RAM, free disk -> HardwareProfile.

`probe()` asks `nvidia-smi` first so the UI can start without importing torch (2-3 s); only when
nvidia-smi does not answer does it ask torch (CUDA without nvidia-smi on PATH, ROCm, Apple MPS).
It never raises: an odd machine yields a CPU-only profile plus a warning saying what went wrong.

`parse_gpus(spec)` builds a what-if profile (`1x24GiB`, `2x80GiB`, `A100-80GB`, `2xH100`, `cpu`) so a
person can plan on a laptop for a rented box; its RAM is taken as 1.5x the GPUs' memory (or this
machine's RAM if larger), which is what CPU-offload plans are checked against. GPU makers' "GB" is what the card reports in GiB
(a "24 GB" RTX 4090 shows 24564 MiB), so `24GB` and `24GiB` mean the same here.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tuneui.contract.errors import TuneuiError
from tuneui.contract.hardware import GPUInfo, HardwareProfile

GiB = 1024**3
MiB = 1024**2

# name pattern -> (memory GiB, compute capability, dense bf16/fp16 tensor TFLOPS). The TFLOPS feed
# the time estimate only; memory is used for what-if specs like `A100-80GB` or `4090`.
KNOWN_GPUS: list[tuple[str, float, str, float]] = [
    ("H200", 141, "9.0", 989),
    ("GH200", 96, "9.0", 989),
    ("H100", 80, "9.0", 989),
    ("H800", 80, "9.0", 989),
    ("B200", 180, "10.0", 2250),
    ("A100-40GB", 40, "8.0", 312),
    ("A100", 80, "8.0", 312),
    ("A800", 80, "8.0", 312),
    ("L40S", 48, "8.9", 362),
    ("L40", 48, "8.9", 181),
    ("L4", 24, "8.9", 121),
    ("A6000", 48, "8.6", 155),
    ("A40", 48, "8.6", 150),
    ("A10G", 24, "8.6", 70),
    ("A10", 24, "8.6", 125),
    ("RTX 6000 Ada", 48, "8.9", 365),
    ("5090", 32, "12.0", 210),
    ("4090", 24, "8.9", 165),
    ("4080", 16, "8.9", 97),
    ("4070", 12, "8.9", 58),
    ("4060", 8, "8.9", 30),
    ("3090", 24, "8.6", 71),
    ("3080", 10, "8.6", 60),
    ("3070", 8, "8.6", 40),
    ("3060", 12, "8.6", 25),
    ("V100", 32, "7.0", 125),
    ("T4", 16, "7.5", 65),
    ("P100", 16, "6.0", 19),
    ("MI300X", 192, "gfx942", 1307),
    ("MI250", 128, "gfx90a", 383),
]

Runner = Callable[[list[str]], str]


def known_gpu(name: str) -> tuple[str, float, str, float] | None:
    """The KNOWN_GPUS row whose pattern appears in `name` (longest pattern wins: A100-40GB before A100)."""
    norm = re.sub(r"[\s_-]", "", name).lower()
    best = None
    for row in KNOWN_GPUS:
        pat = re.sub(r"[\s_-]", "", row[0]).lower()
        if pat in norm and (best is None or len(pat) > len(re.sub(r"[\s_-]", "", best[0]))):
            best = row
    return best


def _bf16_from_cc(cc: str | None) -> bool:
    if not cc:
        return False
    if cc.startswith("gfx"):
        return True
    try:
        return float(cc.split(".")[0]) >= 8
    except ValueError:
        return False


def _default_runner(argv: list[str]) -> str:
    exe = shutil.which(argv[0])
    if exe is None:
        raise FileNotFoundError(argv[0])
    out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError((out.stderr or out.stdout).strip().splitlines()[-1:] or f"exit {out.returncode}")
    return out.stdout


_SMI_FIELDS = ["index", "name", "memory.total", "memory.free", "compute_cap", "driver_version"]


def _mib(value: str) -> int | None:
    m = re.match(r"\s*([\d.]+)\s*(MiB)?\s*$", value)
    return int(float(m.group(1)) * MiB) if m else None


def parse_nvidia_smi(text: str, warnings: list[str]) -> tuple[list[GPUInfo], str | None]:
    """Rows of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`; odd rows become warnings."""
    gpus: list[GPUInfo] = []
    driver = None
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 4:
            warnings.append(f"nvidia-smi: skipped an unreadable line: {line.strip()[:80]!r}")
            continue
        idx, name, total, free = cols[:4]
        cc = cols[4] if len(cols) > 4 and re.match(r"^\d+\.\d+$", cols[4]) else None
        if len(cols) > 5 and cols[5] and not cols[5].startswith("["):
            driver = cols[5]
        total_b, free_b = _mib(total), _mib(free)
        if total_b is None:
            # MIG or a locked-down card reports "[N/A]": plan on the known size for the name, if any.
            row = known_gpu(name)
            if row is None:
                warnings.append(f"nvidia-smi: GPU {idx} ({name}) reports no memory size; ignored")
                continue
            total_b = int(row[1] * GiB)
            warnings.append(f"nvidia-smi: GPU {idx} ({name}) reports no memory size; assuming {row[1]:g} GiB")
        if free_b is None:
            free_b = total_b
        row = known_gpu(name)
        if cc is None and row is not None:
            cc = row[2]
        try:
            index = int(idx)
        except ValueError:
            index = len(gpus)
        gpus.append(GPUInfo(index=index, name=name, total_bytes=total_b, free_bytes=min(free_b, total_b),
                            compute_capability=cc, bf16=_bf16_from_cc(cc), backend="cuda",
                            tflops=row[3] if row else None))
    return gpus, driver


def _probe_nvidia_smi(run: Runner, warnings: list[str]) -> tuple[list[GPUInfo], str | None] | None:
    base = ["nvidia-smi", "--format=csv,noheader,nounits"]
    try:
        text = run([*base, "--query-gpu=" + ",".join(_SMI_FIELDS)])
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:  # a hung driver: do not wait twice
        warnings.append("nvidia-smi did not answer within 10 s")
        return None
    except Exception:
        # Old drivers reject compute_cap; ask again without it before giving up on nvidia-smi.
        try:
            text = run([*base, "--query-gpu=index,name,memory.total,memory.free"])
        except Exception as exc:  # broken driver: fall through to torch
            warnings.append(f"nvidia-smi failed: {str(exc)[:120]}")
            return None
    gpus, driver = parse_nvidia_smi(text, warnings)
    return (gpus, driver) if gpus else None


def _probe_torch(warnings: list[str]) -> tuple[str, list[GPUInfo]]:
    """CUDA without nvidia-smi on PATH, ROCm, or Apple MPS: only here is torch imported."""
    try:
        import torch
    except Exception as exc:
        warnings.append(f"torch not importable ({type(exc).__name__}); assuming CPU only")
        return "cpu", []
    gpus: list[GPUInfo] = []
    try:
        if torch.cuda.is_available():
            hip = getattr(torch.version, "hip", None)
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                free, total = torch.cuda.mem_get_info(i)
                cc = getattr(props, "gcnArchName", "").split(":")[0] if hip else f"{props.major}.{props.minor}"
                row = known_gpu(props.name)
                gpus.append(GPUInfo(index=i, name=props.name, total_bytes=int(total), free_bytes=int(free),
                                    compute_capability=cc or None, bf16=bool(torch.cuda.is_bf16_supported()),
                                    backend="rocm" if hip else "cuda", tflops=row[3] if row else None))
            return ("rocm" if hip else "cuda"), gpus
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            # MPS shares system RAM; macOS lets the GPU wire about 2/3 to 3/4 of it.
            total = _ram()[0]
            usable = int(total * 0.70)
            gpus.append(GPUInfo(index=0, name=f"Apple {platform.machine()} GPU (MPS)", total_bytes=usable,
                                free_bytes=usable, bf16=True, backend="mps", tflops=None))
            return "mps", gpus
    except Exception as exc:
        warnings.append(f"torch device query failed: {str(exc)[:120]}")
    return "cpu", gpus


def _ram() -> tuple[int, int]:
    try:
        info = {}
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        return info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError, IndexError):
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError):
            avail = total
        return int(total), int(avail)
    except (ValueError, OSError, AttributeError):
        return 0, 0


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _disk(output_dir: str | Path | None) -> tuple[int | None, str | None]:
    try:
        if output_dir is None:
            from tuneui.contract.settings import runs_root

            output_dir = runs_root()
        path = Path(output_dir).expanduser().absolute()
        while not path.exists() and path != path.parent:
            path = path.parent
        return shutil.disk_usage(path).free, str(path)
    except Exception:
        return None, None


def probe(output_dir: str | Path | None = None, *, run: Runner | None = None,
          torch_probe: Callable[[list[str]], tuple[str, list[GPUInfo]]] | None = None) -> HardwareProfile:
    """Probe this machine. Never raises; `run` (nvidia-smi) and `torch_probe` are injectable for tests."""
    prof = HardwareProfile()
    try:
        prof.cpu_cores = _cpu_cores()
        prof.ram_total_bytes, prof.ram_available_bytes = _ram()
        prof.disk_free_bytes, prof.disk_path = _disk(output_dir)
        smi = _probe_nvidia_smi(run or _default_runner, prof.warnings)
        if smi is not None:
            prof.gpus, prof.driver_version = smi
            prof.accelerator, prof.source = "cuda", "nvidia-smi"
            return prof
        prof.accelerator, prof.gpus = (torch_probe or _probe_torch)(prof.warnings)
        prof.source = "torch"
    except Exception as exc:  # an odd machine must never stop the app from starting
        prof.warnings.append(f"hardware probe failed: {type(exc).__name__}: {str(exc)[:120]}")
    return prof


_SIZE = re.compile(r"^(?:(\d+)\s*[x*]\s*)?(\d+(?:\.\d+)?)\s*(gib|gb|g|mib|mb|m|tib|tb|t)?$", re.I)
_UNITS = {"g": GiB, "gb": GiB, "gib": GiB, "m": MiB, "mb": MiB, "mib": MiB, "t": 1024 * GiB,
          "tb": 1024 * GiB, "tib": 1024 * GiB}


def parse_gpus(spec: str) -> HardwareProfile:
    """What-if hardware: `1x24GiB`, `2x80GiB`, `24GB`, `A100-80GB`, `2xH100`, `4090`, `cpu`."""
    raw = (spec or "").strip()
    prof = HardwareProfile(source="what-if", what_if=raw, cpu_cores=_cpu_cores())
    prof.ram_total_bytes, prof.ram_available_bytes = _ram()
    if raw.lower() in ("cpu", "none"):
        return prof
    if not raw[:1].isalnum():
        raise TuneuiError(f"--gpus {spec!r}: not a GPU spec; use e.g. 1x24GiB, 2x80GiB, A100-80GB, cpu")
    m = _SIZE.match(raw.replace(" ", ""))
    if m and (m.group(3) or m.group(1)):
        count = int(m.group(1) or 1)
        size = float(m.group(2)) * _UNITS[(m.group(3) or "gib").lower()]
        name, cc, tflops = f"GPU {float(m.group(2)):g}{m.group(3) or 'GiB'}", "8.0", None
    else:
        m2 = re.match(r"^(?:(\d+)\s*[x*]\s*)?(.+?)(?:\s*[x*]\s*(\d+))?$", raw, re.I)
        count = int(m2.group(1) or m2.group(3) or 1) if m2 else 1
        name = m2.group(2).strip() if m2 else raw
        row = known_gpu(name)
        size_m = re.search(r"(\d+(?:\.\d+)?)\s*(gib|gb|g)\b", name, re.I)
        if row is None and size_m is None:
            known = ", ".join(r[0] for r in KNOWN_GPUS[:12])
            raise TuneuiError(f"--gpus {spec!r}: not a GPU spec; use e.g. 1x24GiB, 2x80GiB, A100-80GB, cpu "
                              f"(known names: {known}, ...)")
        size = float(size_m.group(1)) * GiB if size_m else (row[1] if row else 0.0) * GiB
        cc, tflops = (row[2], row[3]) if row else ("8.0", None)
    if count < 1 or count > 1024 or size <= 0:
        raise TuneuiError(f"--gpus {spec!r}: need 1-1024 GPUs with a positive memory size")
    prof.accelerator = "rocm" if cc.startswith("gfx") else "cuda"
    prof.gpus = [GPUInfo(index=i, name=name, total_bytes=int(size), free_bytes=int(size), compute_capability=cc,
                         bf16=_bf16_from_cc(cc), backend=prof.accelerator, tflops=tflops) for i in range(count)]
    # A rented GPU box comes with its own RAM, usually more than its GPUs hold; plan CPU offload on that.
    box_ram = int(1.5 * size * count)
    prof.ram_total_bytes = max(prof.ram_total_bytes, box_ram)
    prof.ram_available_bytes = max(prof.ram_available_bytes, box_ram)
    return prof
