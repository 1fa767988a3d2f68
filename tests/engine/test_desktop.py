"""`tuneui install-desktop`: the files each platform's launcher writes, and a clean uninstall."""

from __future__ import annotations

import json
import plistlib
import shlex
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from tuneui import cli, desktop
from tuneui.contract.paths import package_assets


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("TUNEUI_HOME", str(tmp_path / "tuneui"))
    return home


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _desktop_entry(text: str, group: str = "Desktop Entry") -> dict[str, str]:
    entries: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = entries.setdefault(line.strip("[]"), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key] = value
    return entries[group]


def test_install_then_uninstall_leaves_home_as_it_was(home: Path, capsys) -> None:
    (home / ".local" / "share" / "applications").mkdir(parents=True)
    neighbour = home / ".local" / "share" / "applications" / "other.desktop"
    neighbour.write_text("[Desktop Entry]\n")
    before = _tree(home)

    assert cli.main(["install-desktop"]) == 0
    share = home / ".local" / "share"
    entry = share / "applications" / "tuneui.desktop"
    svg = share / "icons" / "hicolor" / "scalable" / "apps" / "tuneui.svg"
    png = share / "icons" / "hicolor" / "256x256" / "apps" / "tuneui.png"
    assert svg.read_bytes() == (package_assets() / "tuneui.svg").read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    values = _desktop_entry(entry.read_text())
    argv = desktop.launch_command()
    assert values["Exec"] == desktop.desktop_exec(argv)
    assert values["Terminal"] == "true"
    assert values["Icon"] == str(svg)
    assert _desktop_entry(entry.read_text(), "Desktop Action demo")["Exec"].endswith(" --demo")
    assert "tuneui install-desktop --uninstall" in capsys.readouterr().out

    assert cli.main(["install-desktop", "--uninstall"]) == 0
    assert _tree(home) == before
    assert neighbour.exists()
    assert not desktop.manifest_path().exists()


def test_uninstall_keeps_a_file_the_user_changed(home: Path) -> None:
    files = desktop.install(desktop.plan_install())
    edited = next(p for p in files if p.suffix == ".desktop")
    edited.write_text(edited.read_text() + "NoDisplay=true\n")
    result = desktop.uninstall()
    assert result.kept == [edited] and edited.exists()
    assert len(result.removed) == 2


def test_reinstall_replaces_the_earlier_launcher(home: Path) -> None:
    desktop.install(desktop.plan_install(terminal=["xterm", "-e"]))
    desktop.install(desktop.plan_install())
    manifest = json.loads(desktop.manifest_path().read_text())
    assert len(manifest["files"]) == 3
    entry = home / ".local" / "share" / "applications" / "tuneui.desktop"
    assert "Terminal=true" in entry.read_text()


def test_uninstall_without_install_says_so(home: Path, capsys) -> None:
    assert cli.main(["install-desktop", "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_dry_run_writes_nothing(home: Path, capsys) -> None:
    assert cli.main(["install-desktop", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "dry-run" and len(out["files"]) == 3
    assert _tree(home) == set()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils is not installed (.ci/setup installs it)")
@pytest.mark.parametrize("terminal", [None, ["gnome-terminal", "--"]])
def test_desktop_entry_passes_desktop_file_validate(home: Path, terminal) -> None:
    desktop.install(desktop.plan_install(terminal=terminal))
    entry = home / ".local" / "share" / "applications" / "tuneui.desktop"
    result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
    if terminal:
        values = _desktop_entry(entry.read_text())
        assert values["Terminal"] == "false"
        assert values["Exec"].startswith("gnome-terminal -- ")
        assert values["TryExec"] == "gnome-terminal"


def test_exec_quoting_follows_the_spec() -> None:
    argv = ["/opt/my apps/tuneui", "50%", 'say "hi"', "$HOME", "back\\slash"]
    assert desktop.desktop_exec(argv) == (
        '"/opt/my apps/tuneui" 50%% "say \\\\"hi\\\\"" "\\\\$HOME" "back\\\\\\\\slash"'
    )


def test_exec_falls_back_to_python_module_when_no_script(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(desktop.sys, "executable", str(tmp_path / "bin" / "python3"))
    monkeypatch.setattr(desktop.shutil, "which", lambda name: None)
    assert desktop.launch_command("linux") == [str(tmp_path / "bin" / "python3"), "-m", "tuneui"]


def test_macos_bundle_files(tmp_path: Path) -> None:
    argv = ["/Users/ann/.local/bin/tuneui"]
    plan = desktop.plan_macos(argv, tmp_path)
    app = tmp_path / "Applications" / "tuneui.app" / "Contents"
    files = {f.path: f for f in plan.files}
    info = plistlib.loads(files[app / "Info.plist"].data)
    assert info["CFBundleExecutable"] == "tuneui-launcher"
    assert info["CFBundlePackageType"] == "APPL"
    launcher = files[app / "MacOS" / "tuneui-launcher"]
    assert launcher.executable and launcher.data.startswith(b"#!/bin/sh\n")
    assert b"/usr/bin/open" in launcher.data and b"tuneui.command" in launcher.data
    command = files[app / "Resources" / "tuneui.command"]
    assert command.executable
    assert command.data.decode().splitlines()[-1] == f"exec {shlex.join(argv)}"
    icns = files[app / "Resources" / "tuneui.icns"].data
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert icns[8:12] == b"ic08" and icns[16:24] == b"\x89PNG\r\n\x1a\n"
    assert tmp_path / "Applications" / "tuneui.app" in plan.owned_dirs


def test_macos_bundle_installs_and_uninstalls(home: Path) -> None:
    plan = desktop.plan_macos(["/usr/local/bin/tuneui"], home)
    desktop.install(plan)
    command = home / "Applications" / "tuneui.app" / "Contents" / "Resources" / "tuneui.command"
    assert command.stat().st_mode & stat.S_IXUSR
    desktop.uninstall()
    assert _tree(home) == set()


def test_windows_shortcut_files(tmp_path: Path) -> None:
    argv = ["C:\\Users\\Ann O'Neil\\pipx\\venvs\\tuneui\\Scripts\\python.exe", "-m", "tuneui"]
    menu = tmp_path / "Start Menu" / "Programs"
    plan = desktop.plan_windows(argv, menu, tmp_path / "data")
    (ico,) = plan.files
    assert ico.path == tmp_path / "data" / "tuneui.ico"
    reserved, kind, count = struct.unpack("<HHH", ico.data[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    size, offset = struct.unpack("<II", ico.data[14:22])
    assert ico.data[offset:offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + size == len(ico.data)
    (cmd,) = plan.commands
    assert cmd[0] == "powershell"
    script = cmd[-1]
    assert "WScript.Shell" in script and "$s.Save()" in script
    assert "$s.TargetPath = 'C:\\Users\\Ann O''Neil\\pipx\\venvs\\tuneui\\Scripts\\python.exe'" in script
    assert "$s.Arguments = '-m tuneui'" in script
    assert plan.made_by_commands == (menu / "tuneui.lnk",)


def test_terminal_option_is_linux_only(home: Path) -> None:
    with pytest.raises(desktop.TuneuiError, match="only used on Linux"):
        desktop.plan_install("macos", terminal=["xterm", "-e"])


def test_empty_terminal_is_a_usage_error(home: Path, capsys) -> None:
    assert cli.main(["install-desktop", "--terminal", ""]) == 2
    assert "tuneui: error: --terminal" in capsys.readouterr().err
