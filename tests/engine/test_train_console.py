"""What `tuneui train` shows while it trains: as a pipe (CI, `| tee`), as a terminal (a pty), --json and
--quiet; and that library chatter the user cannot act on stays out of the console."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

from tests.engine.runs import tiny_config
from tuneui.contract import events as ev
from tuneui.contract.events import EventWriter
from tuneui.training.console import ConsoleProgress, fmt_duration


def _train_cmd(tmp_path, *extra):
    toml = tiny_config(tmp_path / "d", max_steps=3).save(tmp_path / "RUN.toml")
    return [sys.executable, "-m", "tuneui", "train", str(toml), "-o", str(tmp_path / "run"), *extra]


def test_as_a_pipe_it_names_the_run_and_prints_plain_progress_lines(tmp_path):
    out = subprocess.run(_train_cmd(tmp_path), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "run"
    lines = out.stderr.splitlines()
    assert lines[0] == f"tuneui: run directory {run}"
    assert f"tuneui monitor {run}" in lines[1]
    steps = [ln for ln in lines if ln.startswith("step ")]
    assert steps[0].startswith("step 1/3 · loss ") and steps[-1].startswith("step 3/3 · loss ")
    assert all("elapsed" in ln and "tokens/s" in ln for ln in steps)
    assert "\r" not in out.stderr  # no live line in a log
    assert any(ln.startswith("tuneui: finished at step 3") for ln in lines)
    # the bitsandbytes/transformers chatter went to the run's log, not the console
    assert "pip install kernels" not in out.stderr and "Warning" not in out.stderr
    assert "Loading weights" not in out.stderr
    assert "eval loss: base" in out.stdout


def test_on_a_terminal_one_line_is_rewritten_in_place(tmp_path):
    master, slave = os.openpty()
    proc = subprocess.Popen(_train_cmd(tmp_path), stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = b"".join(chunks).decode("utf-8", "replace")
    assert f"tuneui monitor {tmp_path / 'run'}" in text
    live = [part for part in text.split("\r") if part.startswith("\x1b[Kstep ")]
    assert live, text[-2000:]
    assert any(p.startswith("\x1b[Kstep 3/3 · loss ") and "ETA 0s" in p for p in live)
    assert "\nstep " not in text.replace("\r\n", "\n")  # progress is never a line of its own on a terminal
    assert "pip install kernels" not in text


def _events(run_dir, total=4):
    w = EventWriter(run_dir)
    w.emit(ev.Started(model="demo-tiny", technique="lora", total_steps=total, train_examples=10))
    for i in range(1, total + 1):
        w.emit(ev.Step(step=i, loss=2.0 / i, tokens_per_s=100.0, total_steps=total))
    w.emit(ev.Finished(step=total))


def test_json_writes_the_events_to_stdout_one_per_line(tmp_path):
    _events(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    console = ConsoleProgress(tmp_path, mode="json", stream=err, out=out).start()
    console.close()
    lines = out.getvalue().splitlines()
    assert [json.loads(ln)["type"] for ln in lines] == ["started", "step", "step", "step", "step", "finished"]
    assert err.getvalue() == ""


def test_quiet_prints_nothing(tmp_path):
    _events(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    ConsoleProgress(tmp_path, mode="quiet", stream=err, out=out).start().close()
    assert out.getvalue() == "" and err.getvalue() == ""


def test_lines_mode_prints_first_periodic_and_last_step(tmp_path):
    _events(tmp_path, total=50)
    err = io.StringIO()
    ConsoleProgress(tmp_path, mode="lines", stream=err, interval=3600).start().close()
    steps = [ln.split(" · ")[0] for ln in err.getvalue().splitlines() if ln.startswith("step ")]
    assert steps == ["step 1/50", "step 50/50"]  # not 50 lines for 50 steps


def test_lines_mode_says_where_the_run_ended_when_the_last_step_was_not_logged(tmp_path):
    w = EventWriter(tmp_path)
    w.emit(ev.Started(total_steps=6))
    for i in (1, 5):  # logging_steps=5: no step event for the last step
        w.emit(ev.Step(step=i, loss=1.0, total_steps=6))
    w.emit(ev.Finished(step=6))
    err = io.StringIO()
    ConsoleProgress(tmp_path, mode="lines", stream=err, interval=3600).start().close()
    lines = err.getvalue().splitlines()
    assert lines[-2].startswith("step 6/6 · ") and "ETA 0s" in lines[-2]
    assert lines[-1].startswith("tuneui: finished at step 6")


def test_eta_comes_from_the_measured_rate_between_steps():
    console = ConsoleProgress.__new__(ConsoleProgress)
    console.started = 0.0
    from tuneui.training.console import _State

    console.state = _State(total=10, step=4, loss=1.0, first_step=2, first_time=100.0, last_time=110.0)
    line = console.progress_line(now=130.0)
    assert "ETA 30s" in line and "elapsed 2m10s" in line and "step 4/10" in line
    assert fmt_duration(3725) == "1h02m05s"


def test_the_train_command_has_quiet_and_json(run_cli):
    out = run_cli("train", "--help")
    assert "--quiet" in out.stdout and "--json" in out.stdout


def test_a_second_run_with_the_same_name_is_told_where_it_went(tmp_path):
    import argparse

    from tuneui.contract.settings import runs_root
    from tuneui.training.cli_args import resolve
    from tuneui.training.headless import renamed_note

    toml = tiny_config(tmp_path / "d", name="demo").save(tmp_path / "r.toml")
    args = argparse.Namespace(target=str(toml), demo=False, resume=False, output=None, overrides=[])
    cfg, first = resolve(args)
    assert first.name == "demo" and renamed_note(cfg, first) is None
    (runs_root() / "demo").mkdir(parents=True)
    (runs_root() / "demo" / "run.toml").write_text("")
    cfg, second = resolve(args)
    assert second.name == "demo-2"
    assert renamed_note(cfg, second) == ("tuneui: a run named 'demo' exists already; this one is 'demo-2' "
                                         "(choose the name with --set name=NAME or the folder with -o)")


def test_routing_library_output_to_the_log_is_undone_after_the_run(tmp_path):
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    from tuneui.training.console import route_third_party_output

    before = (warnings.showwarning, list(logging.getLogger().handlers), hf_logging.is_progress_bar_enabled())
    restore = route_third_party_output(tmp_path)
    warnings.warn("a library's deprecation", FutureWarning, stacklevel=1)
    logging.getLogger("bitsandbytes.backends.cpu.ops").warning("please pip install kernels")
    restore()
    log = (tmp_path / "train.log").read_text()
    assert "a library's deprecation" in log and "please pip install kernels" in log
    after = (warnings.showwarning, list(logging.getLogger().handlers), hf_logging.is_progress_bar_enabled())
    assert after == before


def test_a_library_logger_with_its_own_console_handler_goes_to_the_log(tmp_path, capsys):
    """DeepSpeed's logger (propagate off, a StreamHandler on stdout, made when the Trainer imports it)
    printed "Setting accelerator to CPU" between the progress lines of `tuneui train`."""
    import logging
    import sys

    from tuneui.training.console import route_third_party_output

    early = logging.getLogger("a_library_made_before")
    early.propagate = False
    early_console = logging.StreamHandler(sys.stderr)
    early.addHandler(early_console)
    restore = route_third_party_output(tmp_path)
    late = logging.getLogger("a_library_made_during_the_run")
    late.propagate = False
    late.addHandler(logging.StreamHandler(stream=sys.stdout))
    late.warning("Setting accelerator to CPU")
    early.warning("an early library's chatter")
    logging.getLogger("tuneui.own").addHandler(own := logging.StreamHandler(sys.stdout))
    restore()
    out = capsys.readouterr()
    assert "Setting accelerator" not in out.out + out.err and "early library" not in out.out + out.err
    log = (tmp_path / "train.log").read_text()
    assert "Setting accelerator to CPU" in log and "an early library's chatter" in log
    assert early.handlers == [early_console]  # put back as it was
    assert own in logging.getLogger("tuneui.own").handlers  # tuneui's own output is never rerouted
    late.addHandler(after := logging.StreamHandler(sys.stdout))
    assert after in late.handlers  # after the run, libraries log as they would


def test_a_preference_run_shows_its_margin_accuracy_and_validations(tmp_path):
    w = EventWriter(tmp_path)
    w.emit(ev.Started(model="demo-tiny", technique="lora", total_steps=2))
    w.emit(ev.Eval(step=1, pref_accuracy=0.75, pref_margin=0.412, logp_chosen=-21.1, logp_rejected=-22.0,
                   logp_drift=-0.388, pref_pairs=4))
    w.emit(ev.Step(step=1, loss=0.69, reward_margin=2.058, reward_accuracy=1.0, total_steps=2))
    w.emit(ev.Warning(step=1, reason="the chosen replies are becoming less likely", advice="lower the learning rate"))
    w.emit(ev.Step(step=2, loss=0.12, reward_margin=3.84, reward_accuracy=0.5, total_steps=2))
    err = io.StringIO()
    ConsoleProgress(tmp_path, mode="lines", stream=err, interval=3600).start().close()
    lines = err.getvalue().splitlines()
    assert ("tuneui: validation at step 1: preference accuracy 75% of 4 pairs, margin 0.412, chosen logp -0.39 "
            "vs reference") in lines
    steps = [ln for ln in lines if ln.startswith("step ")]
    assert steps[0].startswith("step 1/2 · loss 0.6900 · margin 2.058 · acc 100% · ")
    assert steps[-1].startswith("step 2/2 · loss 0.1200 · margin 3.840 · acc 50% · ")
    assert "tuneui: warning: the chosen replies are becoming less likely" in lines


def test_an_sft_line_has_no_preference_figures(tmp_path):
    _events(tmp_path)
    err = io.StringIO()
    ConsoleProgress(tmp_path, mode="lines", stream=err, interval=3600).start().close()
    assert "margin" not in err.getvalue() and "acc " not in err.getvalue()


def test_a_preference_runs_outcome_is_its_preference_accuracy_not_empty_sft_lines(tmp_path):
    """`tuneui train --demo --objective dpo` ended with "exact_match on 0 held-out examples: base n/a ->
    tuned n/a" and no word of the preference accuracy its report holds."""
    import json

    from tuneui.training.headless import _print_outcome

    pairs = {"objective": "dpo", "preference": {
        "base": {"pairs": 64, "accuracy": 0.796875, "mean_logp_margin": 4.633},
        "tuned": {"pairs": 64, "accuracy": 1.0, "mean_logp_margin": 78.419}}}
    (tmp_path / "report.json").write_text(json.dumps(pairs))
    out = io.StringIO()
    _print_outcome(tmp_path, 0, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == ("preference accuracy on 64 held-out pairs (chosen more likely than rejected): base 79.7% "
                        "-> tuned 100.0% (mean log-probability margin 4.633 -> 78.419)")
    assert not any("exact_match" in ln or "eval loss" in ln for ln in lines) and lines[-1].startswith("adapter: ")
    kto = {"objective": "kto", "preference": {
        "base": {"desirable": 5, "undesirable": 4, "desirable_mean_logp": -20.5, "undesirable_mean_logp": -19.0},
        "tuned": {"desirable": 5, "undesirable": 4, "desirable_mean_logp": -12.25, "undesirable_mean_logp": -31.0}}}
    (tmp_path / "report.json").write_text(json.dumps(kto))
    out = io.StringIO()
    _print_outcome(tmp_path, 0, out)
    assert out.getvalue().splitlines()[:2] == [
        "mean log-probability of the 5 held-out desirable replies: base -20.500 -> tuned -12.250",
        "mean log-probability of the 4 held-out undesirable replies: base -19.000 -> tuned -31.000"]
