"""Engine calls of the Chat, Evaluate, Export and Sweep screens, injectable like screens/services.py.

A screen asks `service(screen, "open_chat")`: an attribute of the app's Services wins, then an entry
of `Services.extras` (how tests inject fakes), then the real implementation below, which imports
the engine lazily so `import screens.app` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def _open_chat(path: Path) -> Any:
    from tuneui.chat import ChatSession

    return ChatSession.load(path)


def _validation_prompts(run_dir: Path | None, limit: int = 50) -> list[dict]:
    from tuneui.chat import validation_prompts

    return validation_prompts(run_dir, limit)


def _save_example(run_dir: Path, messages: list) -> Path:
    from tuneui.chat import save_example

    return save_example(run_dir, messages)


def _generation_settings(temperature: float, top_p: float, max_new_tokens: int) -> Any:
    from tuneui.chat import GenerationSettings

    return GenerationSettings(temperature, top_p, max_new_tokens).validate()


def _read_report(run_dir: Path) -> dict | None:
    from tuneui.evaluate_run import read_report

    return read_report(run_dir)


def _evaluate_run(run_dir: Path) -> dict:
    from tuneui.evaluate_run import evaluate_run

    return evaluate_run(run_dir)


def _compare_runs(extra: list[Path]) -> list:
    from tuneui.compare import compare_runs
    from tuneui.paths import runs_dir

    rows = compare_runs(None)
    known = {Path(r.run_dir).resolve() for r in rows}
    rows += [r for r in compare_runs([p for p in extra if p.resolve() not in known and p.exists()])]
    return rows


def _export_run(path: Path, out_dir: Path, **kwargs) -> Any:
    from tuneui.export import export_run

    return export_run(path, out_dir, **kwargs)


def _gguf_converter() -> Path | None:
    from tuneui.export import find_gguf_converter

    return find_gguf_converter()


def _plan_sweep(config: Any, steps: int) -> list:
    from tuneui.sweep import plan_trials

    return plan_trials(config)


def _run_sweep(config: Any, out_dir: Path, **kwargs) -> Any:
    from tuneui.sweep import run_sweep

    return run_sweep(config, out_dir, **kwargs)


DEFAULTS: dict[str, Callable[..., Any]] = {
    "open_chat": _open_chat, "validation_prompts": _validation_prompts, "save_example": _save_example,
    "generation_settings": _generation_settings, "read_report": _read_report, "evaluate_run": _evaluate_run,
    "compare_runs": _compare_runs, "export_run": _export_run, "gguf_converter": _gguf_converter,
    "plan_sweep": _plan_sweep, "run_sweep": _run_sweep,
}


def service(screen: Any, name: str) -> Callable[..., Any]:
    services = screen.app.services
    found = getattr(services, name, None)
    if found is None:
        found = (getattr(services, "extras", None) or {}).get(name)
    return found or DEFAULTS[name]
