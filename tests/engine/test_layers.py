"""The layers hold at run time too: the engine never loads textual, the contract never loads the ML
stack, and the facade loads nothing of the engine until it is asked for something."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate", "numpy", "pyarrow")
UI = ("textual", "tuneui.screens", "textual_plotext", "textual_serve")


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(n for n in {names!r} if n in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    return [n for n in out.stdout.strip().split(",") if n]


def test_the_whole_engine_loads_no_ui():
    # walk_packages would import every package it walks into, the UI's included: walk the engine's only.
    code = ("import pkgutil, importlib, tuneui\n"
            "for top in pkgutil.iter_modules(tuneui.__path__, 'tuneui.'):\n"
            "    if top.name in ('tuneui.screens', 'tuneui.commands', 'tuneui.cli', 'tuneui.__main__'):\n"
            "        continue\n"
            "    mod = importlib.import_module(top.name)\n"
            "    for m in pkgutil.walk_packages(getattr(mod, '__path__', []), top.name + '.'):\n"
            "        if not m.name.endswith('__main__'):\n"
            "            importlib.import_module(m.name)\n")
    assert _loaded_after(code, UI) == []


def test_the_contract_loads_nothing_heavy():
    code = ("import pkgutil, importlib, tuneui.contract\n"
            "for m in pkgutil.walk_packages(tuneui.contract.__path__, 'tuneui.contract.'):\n"
            "    importlib.import_module(m.name)\n")
    assert _loaded_after(code, HEAVY + UI) == []


def test_the_facade_is_light_until_called():
    assert _loaded_after("from tuneui.engine import LocalEngine\nLocalEngine()", HEAVY + UI) == []
