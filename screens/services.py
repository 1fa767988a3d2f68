"""The engine calls the wizard makes, gathered in one injectable object.

Screens never import the engine directly: they call `app.services.<name>(...)`. The real
implementations import `tuneui.*` lazily (inside the call, so `import screens.app` stays light and the
heavy engine modules load in workers); tests pass a `Services` whose callables are fakes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


_IMPORT_LOCK = threading.Lock()
# Cancelled thread workers keep running, so two token measurements can overlap; the first one may
# be building the demo model, which must happen once.
_TOKENIZER_LOCK = threading.Lock()


def _import_heavy() -> None:
    """Import transformers once, under a lock: its lazy module is not safe to import from two worker
    threads at the same time ("cannot import name 'AutoTokenizer'")."""
    with _IMPORT_LOCK:
        import transformers  # noqa: F401
        from transformers import AutoTokenizer  # noqa: F401


def _probe_hardware() -> Any:
    from tuneui.hardware import probe

    return probe()


def _parse_gpus(spec: str) -> Any:
    from tuneui.hardware import parse_gpus

    return parse_gpus(spec)


def _inspect_model(model: str) -> Any:
    from tuneui.models import inspect_model

    return inspect_model(model)


def _ensure_demo_model() -> Path:
    from tuneui.demo import ensure_demo_model

    with _TOKENIZER_LOCK:
        return Path(ensure_demo_model())


def _sample_dataset_path() -> Path:
    from tuneui.demo import sample_dataset_path

    return Path(sample_dataset_path())


def _load_dataset(path: Path, fmt: str = "auto", columns: dict | None = None) -> Any:
    from tuneui.data import load_dataset

    return load_dataset(path, fmt=fmt, columns=columns or None)


def _clean(conversations: list, options: dict) -> Any:
    from tuneui.cleaning import CleanOptions, clean

    return clean(conversations, CleanOptions.from_dict(options))


def _clean_defaults() -> dict:
    from tuneui.cleaning import CleanOptions

    from screens.views import as_dict

    return as_dict(CleanOptions())


def _token_insight(conversations: list, config: Any) -> dict:
    """Token-length statistics and one example exactly as it will be trained (masked vs trained
    segments), with the run's own tokenizer and chat template (loads transformers: call in a worker)."""
    _import_heavy()
    from tuneui.data.preview import preview_example
    from tuneui.data.stats import token_stats
    from tuneui.training.model_setup import load_tokenizer

    with _TOKENIZER_LOCK:
        tok = load_tokenizer(config)
    stats = token_stats(conversations, tok, config.max_seq_length, sample=5000)
    preview = preview_example(tok, conversations[0], config.max_seq_length) if conversations else None
    return {"stats": stats.to_dict(), "preview": preview.segments if preview else [],
            "max_seq_length": config.max_seq_length}


def _recommend(model_info: Any, hardware: Any, seq_len: int | None, dataset_stats: Any) -> Any:
    from tuneui.recommend import recommend

    return recommend(model_info, hardware, seq_len=seq_len, dataset_stats=dataset_stats)


def _alternative_seconds(rec: Any, dataset_stats: dict | None) -> list[float | None]:
    """Estimated seconds per epoch of each alternative (the engine's time model, per setup)."""
    from tuneui.recommend.advice import time_estimate

    out: list[float | None] = []
    for alt in getattr(rec, "alternatives", []):
        s = alt.setup
        t = time_estimate(rec.model, rec.hardware, s.technique, s.seq_len, s.gradient_checkpointing,
                          alt.estimate.trainable_params, dataset_stats)
        out.append(t.get("seconds_per_epoch"))
    return out


def _write_cleaned(config: Any, conversations: list) -> Any:
    """The run config training on exactly the examples the user's own cleaning choices kept.

    RunConfig has no field for cleaning options (the run cleans with the defaults), so custom choices
    travel as a cleaned copy in messages format; the user's file is never touched."""
    import hashlib
    import json

    from tuneui.fsutil import atomic_write_text
    from tuneui.paths import data_dir

    text = "".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in conversations)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = atomic_write_text(data_dir() / "wizard-data" / f"{config.name}-{digest}.jsonl", text)
    return config.model_copy(update={"dataset": str(path), "dataset_format": "messages", "columns": {},
                                     "clean": False})


def _start_run(config: Any, run_dir: Path | None = None, resume: bool = False) -> Any:
    from tuneui.training.launch import start_run

    return start_run(config, run_dir, resume=resume)


def _attach(run_dir: Path) -> Any:
    from tuneui.training.launch import attach

    return attach(run_dir)


def _list_runs() -> list:
    from tuneui.training.launch import list_runs

    return list_runs()


def _follow(run_dir: Path) -> Any:
    from tuneui.training.events import EventFollower

    return EventFollower(run_dir)


def _load_run_config(run_dir: Path) -> Any:
    from tuneui.training.config import RunConfig

    return RunConfig.load(run_dir)


@dataclass
class Services:
    probe_hardware: Callable[[], Any] = _probe_hardware
    parse_gpus: Callable[[str], Any] = _parse_gpus
    inspect_model: Callable[[str], Any] = _inspect_model
    ensure_demo_model: Callable[[], Path] = _ensure_demo_model
    sample_dataset_path: Callable[[], Path] = _sample_dataset_path
    load_dataset: Callable[..., Any] = _load_dataset
    clean: Callable[[list, dict], Any] = _clean
    clean_defaults: Callable[[], dict] = _clean_defaults
    token_insight: Callable[[list, Any], dict] = _token_insight
    recommend: Callable[..., Any] = _recommend
    alternative_seconds: Callable[[Any, dict | None], list] = _alternative_seconds
    start_run: Callable[..., Any] = _start_run
    write_cleaned: Callable[[Any, list], Any] = _write_cleaned
    attach: Callable[[Path], Any] = _attach
    list_runs: Callable[[], list] = _list_runs
    follow: Callable[[Path], Any] = _follow
    load_run_config: Callable[[Path], Any] = _load_run_config
    clock: Callable[[], float] = time.time
    # How often the live screen polls the event stream; tests shorten it.
    poll_interval: float = 0.25
    extras: dict = field(default_factory=dict)


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt")


def model_files(model: str) -> dict:
    """Weights size on disk and the license file of a local model directory (empty for hub ids)."""
    path = Path(model).expanduser()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        return {}
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    license_file = next((p for p in sorted(path.iterdir()) if p.name.lower().startswith(("license", "licence"))),
                        None)
    return {"weights_bytes": size or None, "license_file": str(license_file) if license_file else None,
            "directory": str(path)}
