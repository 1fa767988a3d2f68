"""RunConfig: validation names every bad field, TOML round-trips, --set overrides are typed."""

from __future__ import annotations

import pytest

from tuneui.contract.config import RunConfig, parse_override
from tuneui.contract.errors import ConfigError


def test_defaults_validate_and_round_trip_through_toml(tmp_path):
    cfg = RunConfig(name="x", technique="qlora", lora_target_modules=["q_proj", "v_proj"], max_steps=7)
    path = cfg.save(tmp_path / "run.toml")
    assert RunConfig.load(path) == cfg
    assert RunConfig.load(tmp_path) == cfg  # a run directory works too


def test_every_bad_field_gets_its_own_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('learning_rate = -1\ntechnique = "magic"\nmicro_batch_size = 0\nlearnig_rate = 3\n')
    with pytest.raises(ConfigError) as exc:
        RunConfig.load(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: 4 invalid fields:")
    lines = msg.splitlines()[1:]
    assert len(lines) == 4
    assert any(line.strip().startswith("learning_rate:") and "-1" in line for line in lines)
    assert any(line.strip().startswith("technique:") and "magic" in line for line in lines)
    assert any(line.strip().startswith("micro_batch_size:") for line in lines)
    assert any("learnig_rate: unknown field (did you mean 'learning_rate'?)" in line for line in lines)


def test_invalid_toml_names_the_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "a"\nmax_steps = = 3\n')
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML: .*line 2"):
        RunConfig.load(path)


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        RunConfig.load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("item", "expected"),
    [("max_steps=40", ("max_steps", 40)), ("learning_rate=1e-4", ("learning_rate", 1e-4)),
     ("packing=false", ("packing", False)), ("model=demo", ("model", "demo")),
     ('lora_target_modules=["q_proj"]', ("lora_target_modules", ["q_proj"]))],
)
def test_overrides_are_parsed_as_toml_values(item, expected):
    assert parse_override(item) == expected


def test_override_of_unknown_field_suggests_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        parse_override("max_step=3")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("max_steps")


def test_overrides_are_validated_like_the_file():
    with pytest.raises(ConfigError, match="micro_batch_size"):
        RunConfig().with_overrides(["micro_batch_size=-2"])


def test_cross_field_rules():
    hub = {"model": "org/model-with-code", "trust_remote_code": True}
    with pytest.raises(ConfigError, match="revision"):
        RunConfig.from_dict(hub)
    assert RunConfig.from_dict(hub | {"revision": "0123456789abcdef0123456789abcdef01234567"}).trust_remote_code
    with pytest.raises(ConfigError, match="fp16"):
        RunConfig.from_dict({"technique": "full", "precision": "fp16"})
