"""Measure the peak tensor memory of real training steps, on CUDA or on CPU.

CUDA: torch.cuda.max_memory_allocated (live tensors, no context or allocator slack) after a reset.
CPU: there is no allocator counter, so the torch profiler's memory accounting is read instead: every
allocation event carries the running total allocated since profiling began; its maximum plus the bytes
that were already live (weights, and optimizer state if it exists) is the peak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def live_tensor_bytes(tensors: Iterable[Any]) -> int:
    """Bytes of the distinct storages behind `tensors` (tied weights counted once)."""
    seen: set[int] = set()
    total = 0
    for t in tensors:
        if t is None:
            continue
        try:
            storage = t.untyped_storage()
        except (AttributeError, RuntimeError, NotImplementedError):
            continue
        ptr = storage.data_ptr()
        if ptr in seen or ptr == 0:
            continue
        seen.add(ptr)
        total += storage.nbytes()
    return total


def model_tensors(model: Any, optimizer: Any = None) -> list[Any]:
    out = [p for p in model.parameters()] + [b for b in model.buffers()]
    out += [p.grad for p in model.parameters() if p.grad is not None]
    if optimizer is not None:
        for state in optimizer.state.values():
            out += [v for v in state.values() if hasattr(v, "untyped_storage") and v.dim() > 0]
    # bitsandbytes keeps the 4-bit absmax / quant-state tensors outside parameters()
    for mod in model.modules():
        qs = getattr(getattr(mod, "weight", None), "quant_state", None)
        if qs is not None:
            out += [t for t in (getattr(qs, "absmax", None), getattr(qs, "code", None)) if t is not None]
            nested = getattr(qs, "state2", None)
            if nested is not None:
                out += [t for t in (getattr(nested, "absmax", None), getattr(nested, "code", None)) if t is not None]
        scb = getattr(getattr(mod, "weight", None), "SCB", None)
        if scb is not None:
            out.append(scb)
    return out


def _cpu_peak_during(fn: Callable[[], Any]) -> int:
    """Largest running total of bytes allocated (net of frees) while `fn` runs, from the profiler."""
    import warnings

    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            events.append((node.start_time_ns, int(node.extra_fields.total_allocated), int(node.extra_fields.alloc_size)))
    if not events:
        return 0
    events.sort()
    # The running total is process-wide and survives earlier profiling sessions: measure from where it
    # stood just before this session's first allocation.
    start = events[0][1] - events[0][2]
    return max(0, max(total for _, total, _ in events) - start)


def measure_peak(step: Callable[[], Any], device: str, baseline: Callable[[], int], steps: int = 2) -> int:
    """Peak tensor bytes over `steps` calls of `step` on `device`; `baseline()` gives the bytes live before
    a step starts (weights, gradients, optimizer state)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
    # The first step is a warm-up (it creates optimizer state and lazy caches); each later step is
    # profiled on its own, which keeps the profiler's own bookkeeping out of the way.
    step()
    peak = 0
    for _ in range(max(1, steps - 1)):
        before = baseline()
        peak = max(peak, before + _cpu_peak_during(step))
    return peak
