"""What machine a run is planned for: the probe's (or a what-if spec's) answer, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

GiB = 1024**3


@dataclass
class GPUInfo:
    index: int
    name: str
    total_bytes: int
    free_bytes: int
    compute_capability: str | None = None
    bf16: bool = False
    backend: str = "cuda"  # cuda, rocm, mps
    tflops: float | None = None  # dense bf16/fp16 tensor peak, for time estimates


@dataclass
class HardwareProfile:
    accelerator: str = "cpu"  # cuda, rocm, mps, cpu
    gpus: list[GPUInfo] = field(default_factory=list)
    cpu_cores: int = 1
    ram_total_bytes: int = 0
    ram_available_bytes: int = 0
    disk_free_bytes: int | None = None
    disk_path: str | None = None
    driver_version: str | None = None
    source: str = "none"  # nvidia-smi, torch, what-if, none
    what_if: str | None = None  # the --gpus spec this profile was built from
    warnings: list[str] = field(default_factory=list)

    @property
    def num_gpus(self) -> int:
        return len(self.gpus)

    @property
    def gpu_memory_bytes(self) -> int:
        """Memory per GPU a run can plan on: the smallest card's free memory (total for what-if)."""
        if not self.gpus:
            return 0
        return min(g.free_bytes for g in self.gpus)

    @property
    def bf16(self) -> bool:
        return bool(self.gpus) and all(g.bf16 for g in self.gpus)

    @property
    def tflops(self) -> float | None:
        vals = [g.tflops for g in self.gpus if g.tflops]
        return min(vals) if vals else None

    def summary(self) -> str:
        if not self.gpus:
            return f"CPU only, {self.cpu_cores} cores, {self.ram_total_bytes / GiB:.0f} GiB RAM"
        names = {g.name for g in self.gpus}
        name = names.pop() if len(names) == 1 else "mixed GPUs"
        return f"{self.num_gpus}x {name} ({self.gpu_memory_bytes / GiB:.1f} GiB usable each)"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["num_gpus"] = self.num_gpus
        d["gpu_memory_bytes"] = self.gpu_memory_bytes
        d["bf16"] = self.bf16
        d["summary"] = self.summary()
        return d
