"""The wheel a user installs: built with `python -m build`, installed into a fresh venv, run
from outside the source tree.

The venv reuses the installed torch & co. (--system-site-packages) so nothing large downloads,
and the build runs without isolation so the test needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tuneui

REPO = Path(__file__).resolve().parents[2]
# Build outputs and caches; everything else in the working tree goes into the build.
SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                              ".hypothesis", "runs", ".venv", "tests", "benchmarks", "*.pyc")


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _source_files(pattern: str) -> set[str]:
    # Caches (__pycache__, .ruff_cache, .mypy_cache) are not part of the package.
    return {p.relative_to(REPO).as_posix() for p in REPO.glob(pattern)
            if not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(REPO).parts)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pkg")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    dist = root / "dist"
    # sdist first, then the wheel from the sdist: the same path `python -m build` takes for users.
    _run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", dist, src],
         cwd=root)
    wheels = list(dist.glob("tuneui-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    assert list(dist.glob("tuneui-*.tar.gz")), "no sdist was built"
    return wheels[0]


@pytest.mark.slow
def test_wheel_carries_what_the_app_needs_at_run_time(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("tuneui.svg", "tuneui.png", "tuneui.desktop.in", "__init__.py"):
        assert f"tuneui/assets/{asset}" in names
    source_assets = {p.name for p in (REPO / "assets").iterdir() if p.suffix in (".jsonl", ".txt")}
    assert source_assets, "the sample data in assets/ is missing"
    for name in source_assets:
        assert f"tuneui/assets/{name}" in names
    tcss = _source_files("tuneui/screens/**/*.tcss")
    assert tcss and tcss <= names, f"stylesheets missing from the wheel: {tcss - names}"
    # Every module of the package (the UI included): a new subpackage left out of pyproject's list shows up here.
    modules = _source_files("tuneui/**/*.py")
    assert modules - names == set(), "modules missing from the wheel (add their package to pyproject.toml)"
    # Data files next to the code (stylesheets, tables, templates) need a package-data pattern.
    data = {f for f in _source_files("tuneui/**/*.*") if not f.endswith(".pyc")}
    assert data - names == set(), "files missing from the wheel (add them to [tool.setuptools.package-data])"
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "tuneui = tuneui.cli:main" in zipfile.ZipFile(wheel).read(info).decode()


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    # No pip of its own: the system pip, run by the venv's interpreter, installs into the venv.
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", env_dir], cwd=env_dir.parent)
    python = env_dir / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "--quiet", wheel],
         cwd=env_dir.parent)
    return env_dir


def _outside_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TUNEUI_HOME=str(tmp_path / "tuneui-home"), HOME=str(tmp_path / "home"))
    env.pop("XDG_DATA_HOME", None)
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


@pytest.mark.slow
def test_installed_tuneui_runs_outside_the_source_tree(venv: Path, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    env = _outside_env(tmp_path)
    where = _run([bin_dir / "python", "-c", "import tuneui, tuneui.screens; print(tuneui.__file__); print(tuneui.screens.__file__)"],
                 cwd=tmp_path, env=env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), f"imported from the source tree: {where}"

    version = _run([bin_dir / "tuneui", "--version"], cwd=tmp_path, env=env).stdout.strip()
    assert version == f"tuneui {tuneui.__version__}"

    # The launcher finds its template and icon inside the installed package.
    out = json.loads(_run([bin_dir / "tuneui", "install-desktop", "--json"], cwd=tmp_path, env=env).stdout)
    entry = Path(next(f for f in out["files"] if f.endswith(".desktop")))
    assert f"Exec={bin_dir / 'tuneui'}\n" in entry.read_text()
    assert (tmp_path / "home" / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "tuneui.png").is_file()


@pytest.mark.slow
def test_installed_tuneui_trains_the_demo_headless(venv: Path, tmp_path: Path, real_demo_model_dir: Path) -> None:
    env = _outside_env(tmp_path)
    run_dir = tmp_path / "run"
    # Two steps, no cleaning pass and no generation-based metric: the point is that the installed
    # package trains end to end (model, data, adapter, report), not how well. So the steps are small
    # (micro-batch 2, not the demo's 16) and the loss is measured on 10 held-out conversations, not
    # 80: the demo's own budget spent two CPU minutes and more on this 135M model here. The demo
    # model comes from the session cache (TUNEUI_CACHE_DIR is passed through), where the fixture linked it.
    quick = ["max_steps=2", "eval_steps=0", "save_steps=0", "eval_max_examples=0", "clean=false",
             "micro_batch_size=2", "val_fraction=0.01"]
    sets = [arg for kv in quick for arg in ("--set", kv)]
    _run([venv / "bin" / "tuneui", "train", "--demo", *sets, "-o", run_dir], cwd=tmp_path, env=env, timeout=600)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "finished", events[-1]
    assert max(e.get("step", 0) for e in events) == 2
    assert (run_dir / "run.toml").is_file()
    assert list((run_dir / "adapter").glob("*.safetensors")), "no trained weights were saved"
    assert events[0]["val_examples"] > 0  # the loss below is a held-out loss, on the reduced split
    assert "eval_loss" in json.loads((run_dir / "report.json").read_text())
