"""Command-line conventions: --version, --help and every subcommand's --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tuneui
from tuneui import cli


def subcommands() -> dict:
    parser = cli.build_parser()
    return dict(parser._subparsers._group_actions[0].choices)


def test_version_follows_convention(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"tuneui {tuneui.__version__}\n"


def test_every_subcommand_has_help(capsys) -> None:
    commands = subcommands()
    assert {"serve", "install-desktop"} <= set(commands)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    top = capsys.readouterr().out
    for name in commands:
        assert name in top
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0, name
        out = capsys.readouterr().out
        assert out.startswith(f"usage: tuneui {name}"), out[:200]
        assert "-h, --help" in out


def test_unknown_option_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "tuneui", "install-desktop", "--bogus"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from tuneui import cli; cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'textual', 'textual_serve') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == "[]"
