"""Desktop launchers: a menu entry with the tuneui icon that opens tuneui in a terminal.

Linux writes a freedesktop `.desktop` entry and icons into the XDG data dirs; macOS writes a
small `tuneui.app` bundle into ~/Applications that opens a `.command` file (Terminal, or whatever
the user set to open `.command` files); Windows writes an `.ico` and a Start-menu shortcut made
through PowerShell's WScript.Shell. Each install records a manifest of what it wrote (with
hashes), so `uninstall()` removes exactly those files and nothing a user changed or added.

Planning (what to write) is pure and separate from writing, so the macOS and Windows launchers
are unit-tested for their files on any OS.
"""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import shlex
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tuneui import __version__
from tuneui.contract.errors import TuneuiError
from tuneui.contract.fsutil import atomic_write_bytes, atomic_write_text
from tuneui.contract.paths import data_dir, package_assets

PLATFORMS = ("linux", "macos", "windows")
MANIFEST_NAME = "desktop-install.json"
BUNDLE_ID = "io.github.tuneui"


@dataclass(frozen=True)
class LauncherFile:
    path: Path
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class LauncherPlan:
    """Everything one install writes. `made_by_commands` are files the commands create."""

    platform: str
    files: tuple[LauncherFile, ...]
    commands: tuple[tuple[str, ...], ...] = ()
    made_by_commands: tuple[Path, ...] = ()
    # Directories the launcher owns outright (the macOS bundle): removed when left empty.
    owned_dirs: tuple[Path, ...] = field(default=())

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files] + list(self.made_by_commands)


def current_platform() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


def launch_command(platform: str | None = None) -> list[str]:
    """The argv that starts this installation of tuneui, independent of the caller's PATH.

    pipx/uv/venv installs put the `tuneui` script next to the interpreter; a launcher must
    point there (a desktop session's PATH often lacks ~/.local/bin).
    """
    platform = platform or current_platform()
    name = "tuneui.exe" if platform == "windows" else "tuneui"
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return [str(beside.absolute())]
    found = shutil.which("tuneui")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "tuneui"]


# --- Linux (freedesktop) -------------------------------------------------------------------

_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _desktop_string(value: str) -> str:
    """Escape a value of type `string` in a desktop entry."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def desktop_exec(argv: list[str]) -> str:
    """Quote argv for an Exec key (freedesktop spec: quoting, then string escaping, then %%)."""
    parts = []
    for arg in argv:
        if arg and not (_EXEC_RESERVED & set(arg)):
            parts.append(arg)
            continue
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        parts.append(f'"{inner}"')
    return _desktop_string(" ".join(parts)).replace("%", "%%")


def xdg_data_home() -> Path:
    env = os.environ.get("XDG_DATA_HOME")
    if env and Path(env).is_absolute():
        return Path(env)
    return Path.home() / ".local" / "share"


def render_desktop_entry(
    argv: list[str], icon: Path, terminal: list[str] | None = None, template: str | None = None
) -> str:
    """The `.desktop` text. `terminal` (e.g. ["kitty", "-e"]) replaces Terminal=true."""
    if template is None:
        template = (package_assets() / "tuneui.desktop.in").read_text(encoding="utf-8")
    wrap = list(terminal or [])
    values = {
        "@ICON@": _desktop_string(str(icon)),
        "@TRYEXEC@": _desktop_string(wrap[0] if wrap else argv[0]),
        "@EXEC@": desktop_exec(wrap + argv),
        "@DEMO_EXEC@": desktop_exec(wrap + argv + ["--demo"]),
        "@TERMINAL@": "false" if wrap else "true",
        "@VERSION@": __version__,
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def plan_linux(argv: list[str], data_home: Path, terminal: list[str] | None = None) -> LauncherPlan:
    assets = package_assets()
    svg = data_home / "icons" / "hicolor" / "scalable" / "apps" / "tuneui.svg"
    png = data_home / "icons" / "hicolor" / "256x256" / "apps" / "tuneui.png"
    entry = data_home / "applications" / "tuneui.desktop"
    # Icon by absolute path: found even where the icon-theme cache is stale.
    text = render_desktop_entry(argv, svg, terminal)
    return LauncherPlan(
        platform="linux",
        files=(
            LauncherFile(svg, (assets / "tuneui.svg").read_bytes()),
            LauncherFile(png, (assets / "tuneui.png").read_bytes()),
            LauncherFile(entry, text.encode("utf-8")),
        ),
    )


# --- macOS ---------------------------------------------------------------------------------


def png_to_icns(png: bytes) -> bytes:
    """An .icns holding one 256x256 PNG ('ic08'), which macOS scales for every size."""
    entry = b"ic08" + struct.pack(">I", 8 + len(png)) + png
    return b"icns" + struct.pack(">I", 8 + len(entry)) + entry


def plan_macos(argv: list[str], home: Path) -> LauncherPlan:
    app = home / "Applications" / "tuneui.app"
    contents = app / "Contents"
    info = {
        "CFBundleName": "tuneui",
        "CFBundleDisplayName": "tuneui",
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleExecutable": "tuneui-launcher",
        "CFBundleIconFile": "tuneui.icns",
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": __version__,
        "CFBundleVersion": __version__,
        "LSMinimumSystemVersion": "10.13",
        "NSHighResolutionCapable": True,
    }
    command = f"#!/bin/sh\n# Written by `tuneui install-desktop`.\nexec {shlex.join(argv)}\n"
    # `open` on a .command file runs it in the user's terminal app, with no Automation prompt.
    launcher = '#!/bin/sh\nexec /usr/bin/open "$(dirname "$0")/../Resources/tuneui.command"\n'
    png = (package_assets() / "tuneui.png").read_bytes()
    return LauncherPlan(
        platform="macos",
        files=(
            LauncherFile(contents / "Info.plist", plistlib.dumps(info)),
            LauncherFile(contents / "MacOS" / "tuneui-launcher", launcher.encode(), executable=True),
            LauncherFile(contents / "Resources" / "tuneui.command", command.encode(), executable=True),
            LauncherFile(contents / "Resources" / "tuneui.icns", png_to_icns(png)),
        ),
        owned_dirs=(contents / "MacOS", contents / "Resources", contents, app),
    )


# --- Windows -------------------------------------------------------------------------------


def png_to_ico(png: bytes) -> bytes:
    """An .ico with one 256x256 PNG image (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def shortcut_script(lnk: Path, argv: list[str], icon: Path) -> str:
    args = subprocess.list2cmdline(argv[1:])
    return "; ".join(
        [
            f"$s = (New-Object -ComObject WScript.Shell).CreateShortcut({_ps_quote(str(lnk))})",
            f"$s.TargetPath = {_ps_quote(argv[0])}",
            f"$s.Arguments = {_ps_quote(args)}",
            f"$s.IconLocation = {_ps_quote(str(icon) + ',0')}",
            "$s.Description = 'Guided LLM fine-tuning in your terminal'",
            "$s.WorkingDirectory = $env:USERPROFILE",
            "$s.Save()",
        ]
    )


def windows_start_menu() -> Path:
    appdata = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    return Path(appdata) / "Microsoft" / "Windows" / "Start Menu" / "Programs"


def plan_windows(argv: list[str], start_menu: Path, icon_dir: Path) -> LauncherPlan:
    icon = icon_dir / "tuneui.ico"
    lnk = start_menu / "tuneui.lnk"
    png = (package_assets() / "tuneui.png").read_bytes()
    ps = ("powershell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command")
    return LauncherPlan(
        platform="windows",
        files=(LauncherFile(icon, png_to_ico(png)),),
        commands=(ps + (shortcut_script(lnk, argv, icon),),),
        made_by_commands=(lnk,),
    )


# --- plan, install, uninstall ----------------------------------------------------------------


def plan_install(platform: str | None = None, terminal: list[str] | None = None) -> LauncherPlan:
    """What `tuneui install-desktop` writes for the current user on `platform`."""
    platform = platform or current_platform()
    if platform not in PLATFORMS:
        raise TuneuiError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    argv = launch_command(platform)
    if platform == "linux":
        return plan_linux(argv, xdg_data_home(), terminal)
    if terminal:
        raise TuneuiError("--terminal is only used on Linux; macOS and Windows use the system terminal")
    if platform == "macos":
        return plan_macos(argv, Path.home())
    return plan_windows(argv, windows_start_menu(), data_dir())


def manifest_path() -> Path:
    return data_dir() / MANIFEST_NAME


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _missing_dirs(path: Path) -> list[Path]:
    """Ancestors of `path` that do not exist yet, deepest first (ours to remove later)."""
    out = []
    parent = path.parent
    while not parent.exists():
        out.append(parent)
        parent = parent.parent
    return out


def install(plan: LauncherPlan) -> list[Path]:
    """Write the launcher; replaces an earlier tuneui launcher first. Returns the files written."""
    if manifest_path().exists():
        uninstall()
    created_dirs: list[Path] = []
    for path in plan.paths:
        created_dirs += [d for d in _missing_dirs(path) if d not in created_dirs]
    written: dict[str, str] = {}
    try:
        for item in plan.files:
            atomic_write_bytes(item.path, item.data)
            if item.executable:
                item.path.chmod(0o755)
            written[str(item.path)] = _sha256(item.path)
        for cmd in plan.commands:
            try:
                subprocess.run(list(cmd), check=True, capture_output=True, text=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                raise TuneuiError(f"could not create the launcher with {cmd[0]}: {detail}") from exc
        for path in plan.made_by_commands:
            if path.exists():
                written[str(path)] = _sha256(path)
    finally:
        _write_manifest(plan, written, created_dirs)
    return [Path(p) for p in written]


def _write_manifest(plan: LauncherPlan, written: dict[str, str], created_dirs: list[Path]) -> None:
    dirs = [str(d) for d in created_dirs] + [str(d) for d in plan.owned_dirs if str(d) not in created_dirs]
    data = {"version": __version__, "platform": plan.platform, "files": written, "dirs": dirs}
    atomic_write_text(manifest_path(), json.dumps(data, indent=2) + "\n")


@dataclass
class UninstallResult:
    removed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # changed since install: not ours any more
    installed: bool = True


def uninstall() -> UninstallResult:
    """Remove what the last install wrote (by its manifest); files edited since are kept."""
    mpath = manifest_path()
    if not mpath.exists():
        return UninstallResult(installed=False)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
        dirs = list(manifest.get("dirs", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise TuneuiError(f"unreadable install manifest ({exc}); delete it to start over", source=str(mpath)) from None
    result = UninstallResult()
    for name, digest in files.items():
        path = Path(name)
        if not path.exists():
            continue
        if _sha256(path) != digest:
            result.kept.append(path)
            continue
        path.unlink()
        result.removed.append(path)
    # Deepest first, and only when empty: a dir that holds anything else is not ours to remove.
    for name in sorted(dirs, key=lambda d: len(Path(d).parts), reverse=True):
        try:
            Path(name).rmdir()
        except OSError:
            pass
    mpath.unlink()
    return result
