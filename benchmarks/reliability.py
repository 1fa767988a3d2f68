"""Kill a training run at random moments, resume each, and check it ends exactly like a run that was
never killed.

One uninterrupted reference run first (LoRA on the tiny demo model, 48 sample conversations, 12
optimizer steps, a checkpoint every 3, a small task-metric evaluation at both ends). Then N times:
start the same run, SIGKILL it after a random delay drawn over the reference's whole wall time
(setup, base evaluation, training, saves, final evaluation), and recover the way a user would:
`tuneui train RUN_DIR --resume` when the run directory has a run.toml, else the original command
again. A kill counts as *survived* when the recovery ends with exit 0 and a `finished` event, and as
*reproduced* when, in addition, every step's loss (the last value logged for it, across the killed
and the resumed sessions) and every final adapter weight equal the reference's (within 1e-5 on
losses, 1e-6 on weights) with the same number of steps.

  python benchmarks/reliability.py            # 20 kills
  python benchmarks/reliability.py --kills 50 --seed 3

Ends with one JSON line: kills, survived, reproduced, worst loss and weight differences.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuneui.contract import runlock  # noqa: E402
from tuneui.contract.config import RunConfig  # noqa: E402
from tuneui.contract.events import read_events  # noqa: E402
from tuneui.demo import sample_dataset_path  # noqa: E402

LOSS_TOL, WEIGHT_TOL = 1e-5, 1e-6


def config(root: Path) -> RunConfig:
    lines = sample_dataset_path().read_text().splitlines()
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.jsonl").write_text("\n".join(lines[:48]) + "\n")
    (root / "val.jsonl").write_text("\n".join(lines[48:56]) + "\n")
    return RunConfig(name="reliability", model="demo-tiny", dataset=str(root / "train.jsonl"),
                     val_dataset=str(root / "val.jsonl"), clean=False, technique="lora", lora_r=8, learning_rate=5e-3,
                     micro_batch_size=4, gradient_accumulation_steps=2, max_steps=12, logging_steps=1, eval_steps=0,
                     save_steps=3, save_total_limit=2, eval_max_examples=4, eval_max_new_tokens=16,
                     warmup_ratio=0.0, seed=7)


def train(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuneui.training", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def final_losses(run: Path) -> dict[int, float]:
    """The last loss logged for each step, over every session of the run."""
    out: dict[int, float] = {}
    for e in read_events(run):
        if e.type == "step" and e.loss is not None:
            out[e.step] = e.loss
    return out


def weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "adapter" / "adapter_model.safetensors")


def where(run: Path) -> str:
    """What the run was doing when it was killed, from its lock and events."""
    owner = runlock.holder(run)
    events = read_events(run) if run.exists() else []
    ckpts = [e.step for e in events if e.type == "checkpoint"]
    phase = owner.phase if owner else ("before the lock" if not events else "after the last event")
    return f"{phase}, step {max((e.step for e in events), default=0)}, last ckpt {ckpts[-1] if ckpts else '-'}"


def recover(run: Path, toml: Path) -> tuple[int, str]:
    """(exit code, stderr tail) of what a user does after the kill: resume, or run it again."""
    args = (run, "--resume") if (run / "run.toml").exists() else (toml, "-o", run)
    proc = train(*args)
    _, err = proc.communicate(timeout=1800)
    return proc.returncode, err[-800:]


def finite(x: float) -> float | None:
    """JSON has no infinity: a difference that could not be measured (a failed recovery) is null."""
    return x if x != float("inf") else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="tuneui-reliability-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ.setdefault("TUNEUI_HOME", str(tmp / "home"))
        cfg = config(tmp / "data")
        toml = cfg.save(tmp / "run.toml")
        t0 = time.monotonic()
        ref_proc = train(toml, "-o", tmp / "ref")
        _, err = ref_proc.communicate(timeout=1800)
        wall = time.monotonic() - t0
        if ref_proc.returncode != 0:
            sys.exit(f"the reference run failed:\n{err[-2000:]}")
        ref_losses, ref_weights = final_losses(tmp / "ref"), weights(tmp / "ref")
        print(f"reference: {len(ref_losses)} steps in {wall:.1f} s; kills drawn over 0.3-{wall:.1f} s")
        print(f"{'#':>3} {'kill at':>8}  {'landed in':<52} {'exit':>4} {'loss diff':>10} "
              f"{'weight diff':>11}  reproduced")
        survived = reproduced = 0
        worst_loss = worst_weight = 0.0
        for k in range(args.kills):
            run = tmp / f"kill-{k}"
            delay = rng.uniform(0.3, wall)
            proc = train(toml, "-o", run)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.01)
            landed = where(run) if proc.poll() is None else "finished before the kill"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            code, err = recover(run, toml)
            ok = code == 0 and any(e.type == "finished" for e in read_events(run))
            loss_diff = weight_diff = float("inf")
            same = False
            if ok:
                survived += 1
                got = final_losses(run)
                if set(got) == set(ref_losses):
                    loss_diff = max(abs(got[s] - ref_losses[s]) for s in got)
                w = weights(run)
                if w.keys() == ref_weights.keys():
                    weight_diff = max(float((w[n] - ref_weights[n]).abs().max()) for n in w)
                same = loss_diff <= LOSS_TOL and weight_diff <= WEIGHT_TOL
                reproduced += same
                worst_loss, worst_weight = max(worst_loss, loss_diff), max(worst_weight, weight_diff)
            print(f"{k + 1:>3} {delay:>7.2f}s  {landed[:52]:<52} {code:>4} {loss_diff:>10.2e} "
                  f"{weight_diff:>11.2e}  {'yes' if same else 'NO'}", flush=True)
            if not ok:
                print(f"     recovery failed: {err.strip().splitlines()[-1] if err.strip() else '(no output)'}")
            shutil.rmtree(run, ignore_errors=True)
    print()
    print(f"kills survived: {survived}/{args.kills}; reproduced the uninterrupted losses and weights: "
          f"{reproduced}/{args.kills}; worst loss difference {worst_loss:.2e}, worst weight difference "
          f"{worst_weight:.2e}")
    print(json.dumps({"kills": args.kills, "survived": survived, "reproduced": reproduced,
                      "worst_loss_diff": finite(worst_loss), "worst_weight_diff": finite(worst_weight)}))


if __name__ == "__main__":
    main()
