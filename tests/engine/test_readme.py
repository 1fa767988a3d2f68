"""README opens with exactly two commands, and CI runs the second one verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_starts_with_two_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert text.index("```bash") < 20 and len(first_block) == 2
    install_demo, test = first_block
    assert install_demo.endswith("tuneui --demo")
    assert "pytest" in test and '".[test,trackers,deepspeed]"' in test  # the optional extras are tested too
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
