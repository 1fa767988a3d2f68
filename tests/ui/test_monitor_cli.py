"""`tuneui monitor RUN_DIR`: bad directories are a one-line error; a run dir opens the live screen."""

import tuneui.screens.app
from tuneui.cli import main


def test_monitor_rejects_missing_and_non_run_dirs(tmp_path, capsys):
    assert main(["monitor", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["monitor", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_monitor_opens_the_app_on_the_run(tmp_path, monkeypatch):
    (tmp_path / "run.toml").write_text('name = "x"\n')
    seen = {}
    monkeypatch.setattr(tuneui.screens.app, "run_app", lambda **kw: seen.update(kw) or 0)
    assert main(["monitor", str(tmp_path)]) == 0
    assert seen == {"monitor": tmp_path.resolve()}
