"""The Preferences panel and the first-run environment check, driven with Pilot."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Button, Input, Select, Static

from tuneui.contract.settings import Settings, load_settings, save_settings, settings_path
from tuneui.envcheck import Check
from tuneui.screens.first_run import FirstRunScreen
from tuneui.screens.settings_panel import SettingsScreen, apply_user_settings


class Host(App):
    """A bare app: the screens must work on their own, not only inside the wizard."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list = []

    def open(self, screen) -> None:
        self.push_screen(screen, self.results.append)


async def test_save_writes_the_toml_and_applies_the_theme(tmp_path: Path) -> None:
    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        app.open(SettingsScreen())
        await pilot.pause()
        screen = app.screen
        screen.query_one("#theme", Select).value = "nord"
        screen.query_one("#output_dir", Input).value = str(tmp_path / "runs")
        screen.query_one("#hub_cache_dir", Input).value = "  ~/hf  "
        await pilot.pause()
        assert app.theme == "nord"  # previewed before saving
        await pilot.click("#save")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
    saved = load_settings()
    assert (saved.theme, saved.output_dir, saved.hub_cache_dir) == ("nord", str(tmp_path / "runs"), "~/hf")
    assert app.results == [saved]


async def test_cancel_restores_the_theme_and_writes_nothing() -> None:
    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        before = app.theme
        app.open(SettingsScreen())
        await pilot.pause()
        app.screen.query_one("#theme", Select).value = "nord"
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.theme == before
    assert app.results == [None]
    assert not settings_path().exists()


async def test_output_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        app.open(SettingsScreen())
        await pilot.pause()
        app.screen.query_one("#output_dir", Input).value = str(a_file)
        await pilot.click("#save")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert "is a file, not a directory" in str(app.screen.query_one("#error", Static).render())
    assert not settings_path().exists()


async def test_broken_settings_file_is_explained_not_fatal() -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text("theme = [\n")
    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        app.open(SettingsScreen())
        await pilot.pause()
        error = str(app.screen.query_one("#error", Static).render())
        assert "settings.toml:1: not valid TOML" in error and "Saving replaces" in error
        apply_user_settings(app)  # the app's start-up path: a notification, defaults
        await pilot.pause()
        assert app._notifications


async def test_apply_user_settings_sets_the_saved_theme() -> None:
    save_settings(Settings(theme="nord"))
    app = Host()
    async with app.run_test() as pilot:
        apply_user_settings(app)
        await pilot.pause()
        assert app.theme == "nord"
        assert not app._notifications
        save_settings(Settings(theme="no-such-theme"))
        apply_user_settings(app)
        await pilot.pause()
        assert app.theme == "nord"
        assert "'no-such-theme' is not available" in list(app._notifications)[-1].message


CHECKS = [
    Check("torch", "PyTorch", "ok", "PyTorch 2.13.0 imports."),
    Check("gpu", "GPU", "missing", "This machine has an NVIDIA GPU, but PyTorch is the CPU-only build.",
          "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu128"),
    Check("disk", "Disk space", "warn", "10.0 GiB free in /data.", "tuneui settings set output_dir /big"),
]


async def test_first_run_shows_each_check_and_its_fix_then_remembers() -> None:
    assert FirstRunScreen.should_show()
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open(FirstRunScreen(checker=lambda: CHECKS))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        lines = [str(w.render()) for w in screen.query(".line")]
        fixes = [str(w.render()) for w in screen.query(".fix")]
        assert lines[1].startswith("✗ GPU: This machine has an NVIDIA GPU")
        assert fixes == [f"  $ {CHECKS[1].fix}", f"  $ {CHECKS[2].fix}"]
        summary = str(screen.query_one("#summary", Static).render())
        assert summary.startswith("Missing: GPU.")
        assert not screen.query_one("#copy", Button).disabled
        await pilot.click("#copy")
        await pilot.click("#continue")
        await pilot.pause()
        assert app.clipboard == "\n".join(c.fix for c in CHECKS[1:])
    assert app.results == [True]
    assert load_settings().first_run_done
    assert not FirstRunScreen.should_show()


async def test_first_run_survives_a_failing_check() -> None:
    def boom() -> list:
        raise RuntimeError("probe exploded")

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open(FirstRunScreen(checker=boom))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "probe exploded" in str(app.screen.query_one("#summary", Static).render())
        assert app.screen.query_one("#copy", Button).disabled


async def test_wizard_opens_first_run_once(tmp_path: Path, monkeypatch) -> None:
    from fakes import FakeEngine, wizard

    class Checked(FakeEngine):
        def check_environment(self):
            return CHECKS

    app = wizard(Checked(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FirstRunScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(app.screen.query(".check")) == len(CHECKS)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FirstRunScreen)
    again = wizard(Checked(tmp_path))
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not isinstance(again.screen, FirstRunScreen)
