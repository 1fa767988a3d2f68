"""Streaming data: worker processes give the same result as one process, examples survive the Arrow
spool whole, progress reports rows/s and time left, and training refuses what it cannot train before
it loads anything."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from tuneui.cleaning.flow import load_and_clean, split_cleaned
from tuneui.cleaning.output import read_split_file
from tuneui.contract.datasets import Example, LoadProgress
from tuneui.data import load_dataset
from tuneui.data.spool import Spool, SpoolWriter, read_examples

WORDS = "river mountain quiet orange engine window silver garden planet market pencil bottle".split()


def corpus(path: Path, n: int) -> Path:
    rng = random.Random(7)
    rows = []
    for i in range(n):
        answer = " ".join(rng.choice(WORDS) for _ in range(40))
        rows.append({"messages": [{"role": "user", "content": f"Question {i % (n // 3)}: {rng.choice(WORDS)}?"},
                                  {"role": "assistant", "content": answer}]})
        if i % 10 == 0:
            rows.append(rows[-1])  # an exact duplicate
    rows.insert(5, "{broken")
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_worker_processes_give_the_same_result_as_one(tmp_path):
    path = corpus(tmp_path / "c.jsonl", 3000)
    outcomes = []
    for workers in (1, 2):
        work = tmp_path / f"w{workers}"
        work.mkdir()
        load, cleaned = load_and_clean(path, "auto", None, None, workdir=work, workers=workers)
        split, _ = split_cleaned(cleaned, 0.1, 3, work / "out", load.kind)
        outcomes.append((load.examples, load.problems.bad_lines, [p.line for p in load.problems.kept],
                         cleaned.report.removed, cleaned.removed, split["val"], load.lengths.to_dict(),
                         read_split_file(work / "out" / "val.parquet")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == 1 and outcomes[0][3]["exact_duplicates"] == 300


def test_the_spool_keeps_every_part_of_every_kind(tmp_path):
    examples = [
        Example([{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                 {"role": "assistant", "content": "", "reasoning_content": "think",
                  "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": [1, 2]}}, "id": "1"}]},
                 {"role": "tool", "content": "r", "tool_call_id": "1", "name": "f"},
                 {"role": "assistant", "content": "done", "train": False}],
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        Example([{"role": "user", "content": "q"}], chosen=[{"role": "assistant", "content": "a"}],
                rejected=[{"role": "assistant", "content": "b"}], score_chosen=2.0, score_rejected=1.5),
        Example([{"role": "user", "content": "q"}], completion=[{"role": "assistant", "content": "c"}], label=False),
    ]
    with SpoolWriter(tmp_path / "s.arrow") as writer:
        writer.write_examples(examples, [3, 5, 8])
        writer.write_examples(examples[:1], [9])
    back, lines = read_examples(tmp_path / "s.arrow")
    assert back == examples + examples[:1] and lines == [3, 5, 8, 9]
    with Spool(tmp_path / "s.arrow") as spool:
        assert spool.rows == 4 and spool.page(2, 5) == (back[2:], [8, 9])


def test_progress_says_rows_per_second_and_time_left(tmp_path):
    p = LoadProgress("reading", rows=120_000, seconds=2.5, fraction=0.25)
    assert p.line() == "reading: 120,000 rows, 48,000 rows/s, about 8 s left"
    seen: list[LoadProgress] = []
    load_dataset(corpus(tmp_path / "c.jsonl", 300), progress=seen.append)
    assert seen and seen[-1].fraction == 1.0 and seen[-1].rows == 331


def test_cli_progress_rewrites_one_line_on_a_terminal():
    from tuneui.commands.progress import ProgressPrinter

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    printer = ProgressPrinter(out)
    printer(LoadProgress("cleaning", 5000, 1.0, 0.5))
    printer.done()
    assert out.getvalue().startswith("\rcleaning: 5,000 rows, 5,000 rows/s, about 1 s left")
    log = io.StringIO()
    ProgressPrinter(log)(LoadProgress("reading", 10, 0.1, None))
    assert log.getvalue() == ""  # a log stays quiet for short steps


def test_train_refuses_preference_data_by_name_before_loading_a_model(tmp_path, run_cli):
    rows = [{"prompt": f"q{i}", "chosen": "good", "rejected": "bad"} for i in range(4)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'model = "no/such-model-anywhere"\ndataset = "{data}"\n', encoding="utf-8")
    proc = run_cli("train", cfg, "-o", tmp_path / "run", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "preference data (chosen/rejected pairs)" in proc.stderr and "objective=dpo" in proc.stderr
    assert "Traceback" not in proc.stderr and "no/such-model" not in proc.stderr  # the model was never fetched


def test_train_names_skip_bad_lines_not_a_flag_it_lacks(tmp_path, run_cli):
    data = tmp_path / "d.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    data.write_text(good + "\n{broken\n", encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'model = "no/such-model-anywhere"\ndataset = "{data}"\n', encoding="utf-8")
    proc = run_cli("train", cfg, "-o", tmp_path / "run", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2 and "--skip-bad" not in proc.stderr
    assert "skip_bad_lines = true" in proc.stderr and "--set skip_bad_lines=true" in proc.stderr
