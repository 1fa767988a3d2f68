"""Hostile inputs end in one line naming the file and line or field, exit 2, and no traceback.

Every case runs the real `tuneui` command in a subprocess. The data cases are built from the bundled
sample conversations; the run cases use one real finished run (LoRA on the demo model)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess

import pytest

from tests.engine.runs import tiny_config
from tuneui.demo import sample_dataset_path
from tuneui.training import checkpoints
from tuneui.training.runner import run_training

HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def refused(out, *needles):
    """Exit 2, no traceback, and one `tuneui: error:` line that says what and where."""
    assert out.returncode == 2, (out.returncode, out.stdout[-1500:], out.stderr[-3000:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("tuneui: error:")]
    assert len(errors) == 1, out.stderr[-3000:]
    text = errors[0] + "\n" + out.stderr[out.stderr.index(errors[0]):]
    for needle in needles:
        assert needle in text, (needle, text)


def sample_lines(n: int = 3) -> list[dict]:
    return [json.loads(line) for line in sample_dataset_path().read_text().splitlines()[:n]]


def write_jsonl(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# -- data files ------------------------------------------------------------------------------------
def test_symlink_loop(tmp_path, run_cli):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(tmp_path / "other.jsonl")
    (tmp_path / "other.jsonl").symlink_to(loop)
    refused(run_cli("data", "inspect", loop), f"{loop}: a symbolic link loop")
    refused(run_cli("train", "--demo", "-o", tmp_path / "run", "--set", f"dataset={json.dumps(str(loop))}"),
            f"{loop}: a symbolic link loop")


@pytest.mark.parametrize("shape", ["jsonl", "json"])
def test_deeply_nested_json(tmp_path, run_cli, shape):
    good = [json.dumps(r) for r in sample_lines(2)]
    deep = "[" * 100_000 + "]" * 100_000
    if shape == "jsonl":
        path = write_jsonl(tmp_path / "deep.jsonl", [good[0], '{"messages": ' + deep + "}", good[1]])
        refused(run_cli("data", "inspect", path), f"{path}:2: bad JSON: nested too deeply")
    else:
        path = tmp_path / "deep.json"
        path.write_text(deep)
        refused(run_cli("data", "inspect", path), f"{path}:1: bad JSON: nested too deeply")


def test_lone_surrogate_in_text(tmp_path, run_cli):
    good = [json.dumps(r) for r in sample_lines(2)]
    bad = sample_lines(3)[2]
    bad["messages"][1]["content"] += "\ud800"
    path = write_jsonl(tmp_path / "sur.jsonl", [good[0], json.dumps(bad), good[1]])  # json escapes it as \\ud800
    refused(run_cli("data", "inspect", path), f"{path}:2: field messages[1].content", "surrogate")
    refused(run_cli("data", "clean", path, "-o", tmp_path / "out"), f"{path}:2: field messages[1].content")
    assert not (tmp_path / "out").exists()


def test_a_broken_line_after_a_thousand_warnings_is_still_an_error(tmp_path, run_cli):
    rows = []
    for row in (json.loads(line) for line in sample_dataset_path().read_text().splitlines()[:1200]):
        rows.append(json.dumps({"messages": [{"role": "system", "content": ""}] + row["messages"]}))  # a warning
    rows.insert(1150, '{"messages": [')
    path = write_jsonl(tmp_path / "noisy.jsonl", rows)
    out = run_cli("data", "inspect", path, "--json")
    refused(out, f"{path}:1151: bad JSON")
    summary = json.loads(out.stdout)
    assert summary["problem_summary"]["warnings"] == 1200 and summary["problem_summary"]["errors"] == 1
    assert summary["problems"][0]["line"] == 1151  # errors first, not crowded out by warnings
    refused(run_cli("train", "--demo", "-o", tmp_path / "run", "--set", f"dataset={json.dumps(str(path))}"),
            f"{path}:1151: bad JSON")


# -- run configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, says", [
    (["seed=-1"], "  seed:"),
    (["seed=9223372036854775808"], "  seed:"),
    (["epochs=inf"], "  epochs:"),
    (["learning_rate=nan"], "  learning_rate:"),
    (["lora_target_modules=[]"], "  lora_target_modules:"),
    (['lora_target_modules=["q_proj", ""]'], "  lora_target_modules:"),
    (["eval_max_new_tokens=100000000"], "  eval_max_new_tokens:"),
    (['name="../../x"'], "  name:"),
    (['name="/tmp/x"'], "  name:"),
    (['name=".hidden"'], "  name:"),
    (['model="org/model-with-code"', "trust_remote_code=true", 'revision="main"'],
     "revision: trust_remote_code runs the repository's own code"),
])
def test_bad_field_is_named(tmp_path, run_cli, overrides, says):
    args = [a for item in overrides for a in ("--set", item)]
    refused(run_cli("train", "--demo", "-o", tmp_path / "run", *args), "--set:", says)
    assert not (tmp_path / "run").exists()


def test_unknown_lora_target_is_named_with_the_models_layers(tmp_path, run_cli):
    out = run_cli("train", tiny_config(tmp_path / "d").save(tmp_path / "r.toml"), "-o", tmp_path / "run",
                  "--set", 'lora_target_modules=["q_proj", "nope"]')
    refused(out, "lora_target_modules: 'nope' not found in demo", "q_proj")


def test_local_model_code_needs_its_own_consent(tmp_path, run_cli, demo_model_dir):
    model = tmp_path / "model"
    shutil.copytree(demo_model_dir, model)
    toml = tiny_config(tmp_path / "d", model=str(model)).save(tmp_path / "r.toml")
    refused(run_cli("train", toml, "--print-launch", "--set", "trust_remote_code=true", "--set",
                    f"revision={json.dumps(HUB_COMMIT)}"),
            f"trust_remote_code: {model} is a local directory", f"--trust-local-code {model}")
    out = run_cli("train", toml, "--print-launch", "--set", "trust_remote_code=true", "--trust-local-code", model)
    assert out.returncode == 0, out.stderr[-2000:]
    refused(run_cli("train", toml, "--print-launch", "--set", "trust_remote_code=true", "--trust-local-code",
                    tmp_path), "--trust-local-code")


def test_utf8_bom_in_run_toml(tmp_path, run_cli):
    toml = tiny_config(tmp_path / "d").save(tmp_path / "r.toml")
    text = toml.read_text()
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert run_cli("train", bom, "--print-launch").returncode == 0
    bom.write_bytes(b"\xef\xbb\xbf" + text.replace("lora_r = 8", "lora_r = 0").encode())
    refused(run_cli("train", bom, "--print-launch"), f"{bom}: 1 invalid field", "lora_r")


# -- output folders --------------------------------------------------------------------------------
def test_output_dir_that_is_a_file(tmp_path, run_cli):
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    refused(run_cli("train", "--demo", "-o", afile), f"{afile}: the run folder is a file")
    assert afile.read_text() == "mine\n"


@pytest.fixture
def read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes through permissions: mount a read-only filesystem instead
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a read-only tmpfs here")
        yield ro
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
    else:
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)


def test_read_only_output_dir(read_only_dir, run_cli):
    refused(run_cli("train", "--demo", "-o", read_only_dir / "run"), f"{read_only_dir / 'run'}: cannot write here")
    refused(run_cli("train", "--demo", "-o", read_only_dir), f"{read_only_dir}: cannot write here")


# -- a finished run, then tampered with ------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    run = root / "run"
    assert run_training(tiny_config(root / "d", max_steps=2, save_steps=1), run) == 0
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path):
    return shutil.copytree(finished_run, tmp_path / "run")


class _Payload:
    """A pickle that would create `marker` if anything unpickled it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _reseal(ckpt):
    """Rewrite the manifest hashes, as someone planting a file on purpose would."""
    manifest = json.loads((ckpt / checkpoints.MANIFEST).read_text())
    for name, meta in manifest["files"].items():
        data = (ckpt / name).read_bytes()
        meta.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (ckpt / checkpoints.MANIFEST).write_text(json.dumps(manifest))


def test_missing_val_split_on_resume(run_copy, run_cli):
    (run_copy / "data" / "val.parquet").unlink()
    refused(run_cli("train", run_copy, "--resume", "--set", "max_steps=3"),
            f"{run_copy / 'data' / 'val.parquet'}: missing")


def test_malicious_pickle_in_a_checkpoint(run_copy, run_cli, tmp_path):
    ckpt = run_copy / "checkpoints" / "step-2"
    marker = tmp_path / "pwned"
    (ckpt / "rng_state.pth").write_bytes(pickle.dumps(_Payload(marker), protocol=2))  # the classic form
    _reseal(ckpt)
    refused(run_cli("train", run_copy, "--resume", "--set", "max_steps=3"), f"{ckpt}: refused to load rng_state.pth",
            "GLOBAL", "system")
    assert not marker.exists()


def test_malicious_pickle_in_an_adapter_folder(run_copy, run_cli, tmp_path):
    marker = tmp_path / "pwned"
    adapter = run_copy / "adapter"
    (adapter / "adapter_model.safetensors").unlink()
    (adapter / "adapter_model.bin").write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    refused(run_cli("export", adapter, "-o", tmp_path / "out"), f"{adapter}: the weights are a pickle")
    (adapter / "adapter_model.bin").rename(adapter / "adapter_model.safetensors")  # disguised as safetensors
    refused(run_cli("export", run_copy, "--merge", "-o", tmp_path / "out"), f"{adapter}: cannot load the adapter")
    assert not marker.exists() and not (tmp_path / "out").exists()
