"""An export folder holds a copy of its run's run.toml (for reproduce.sh) but is not a run: it must not
appear in Welcome's recent runs nor in `tuneui evaluate --compare` (issue 16, item 7)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_run  # noqa: E402,F401 - session fixture

from tuneui.contract.loop import ExportOptions  # noqa: E402
from tuneui.contract.settings import runs_root  # noqa: E402
from tuneui.export import export_run  # noqa: E402
from tuneui.runs import compare_runs, list_runs  # noqa: E402


def test_an_export_folder_in_the_runs_folder_is_not_a_run(tiny_run):
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True)
    run = Path(shutil.copytree(tiny_run, root / "my-run"))
    export_run(run, root / "my-run-export", ExportOptions())
    assert (root / "my-run-export" / "run.toml").is_file()  # the copy that made it look like a run
    assert [r.name for r in list_runs()] == ["my-run"]
    assert [r.name for r in compare_runs()] == ["my-run"]
    assert [r.name for r in compare_runs([root / "my-run", root / "my-run-export"])] == ["my-run"]


def test_the_cli_compare_lists_runs_only(tiny_run, run_cli):
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True)
    run = Path(shutil.copytree(tiny_run, root / "only-run"))
    export_run(run, root / "only-run-export", ExportOptions())
    out = run_cli("evaluate", "--compare")
    assert out.returncode == 0, out.stderr
    assert "only-run" in out.stdout and "only-run-export" not in out.stdout
