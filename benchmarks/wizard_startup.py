"""How fast the wizard is interactive: `import tuneui.screens.app`, and process start -> first screen.

Each figure is the median of N fresh processes (the import cache is warm, as for a user's second
start). "first screen" is when Textual has mounted the Welcome step and accepts keys; "hardware
shown" is when the probe worker has filled in the machine panel.

    python benchmarks/wizard_startup.py [--runs N]
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

IMPORT = "import time; t = time.perf_counter(); import tuneui.screens.app; print(time.perf_counter() - t)"

FIRST_SCREEN = r"""
import time, sys
t0 = float(sys.argv[1])
from tuneui.screens.app import TuneApp
out = {}

HEAVY = ("torch", "transformers", "peft", "datasets", "bitsandbytes")

async def pilot(p):
    out["first_screen"] = time.time() - t0
    out["heavy_first"] = [m for m in HEAVY if m in sys.modules]
    while not p.app.state.hardware:
        await p.pause(0.01)
    out["hardware_shown"] = time.time() - t0
    p.app.exit()

app = TuneApp(first_run=False)
app.run(headless=True, auto_pilot=pilot, size=(100, 30))
heavy = [m for m in HEAVY if m in sys.modules]
print(out["first_screen"], out["hardware_shown"], ",".join(out["heavy_first"]) or "-", ",".join(heavy) or "-")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "TUNEUI_HOME": tempfile.mkdtemp(prefix="tuneui-bench-")}
    imports, firsts, hws, heavy_first, heavy_probe = [], [], [], set(), set()
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True, env=env)
        imports.append(float(out.stdout))
        out = subprocess.run([sys.executable, "-c", FIRST_SCREEN, repr(time.time())], capture_output=True,
                             text=True, check=True, env=env)
        first, hw, at_first, after_probe = out.stdout.split()[:4]
        firsts.append(float(first))
        hws.append(float(hw))
        heavy_first.update(m for m in at_first.split(",") if m != "-")
        heavy_probe.update(m for m in after_probe.split(",") if m != "-")
    res = {"import_screens_app_s": round(statistics.median(imports), 3),
           "first_screen_s": round(statistics.median(firsts), 3),
           "hardware_shown_s": round(statistics.median(hws), 3),
           "heavy_modules_at_first_screen": sorted(heavy_first),
           "heavy_modules_after_probe": sorted(heavy_probe)}
    print(f"{'what':34} {'median s':>9}   (of {args.runs} fresh processes)")
    print(f"{'import tuneui.screens.app':34} {res['import_screens_app_s']:9.3f}")
    print(f"{'process start -> first screen':34} {res['first_screen_s']:9.3f}")
    print(f"{'process start -> hardware shown':34} {res['hardware_shown_s']:9.3f}")
    print(f"heavy modules at the first screen: {', '.join(res['heavy_modules_at_first_screen']) or 'none'}; "
          f"after the hardware probe (a worker): {', '.join(res['heavy_modules_after_probe']) or 'none'}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
