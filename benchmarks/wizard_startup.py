"""How fast the wizard is interactive: `import screens.app`, and process start -> first screen.

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

IMPORT = "import time; t = time.perf_counter(); import screens.app; print(time.perf_counter() - t)"

FIRST_SCREEN = r"""
import time, sys
t0 = float(sys.argv[1])
from screens.app import TuneApp
out = {}

async def pilot(p):
    out["first_screen"] = time.time() - t0
    while not p.app.state.hardware:
        await p.pause(0.01)
    out["hardware_shown"] = time.time() - t0
    p.app.exit()

app = TuneApp(first_run=False)
app.run(headless=True, auto_pilot=pilot, size=(100, 30))
heavy = [m for m in ("torch", "transformers", "peft", "datasets", "bitsandbytes") if m in sys.modules]
print(out["first_screen"], out["hardware_shown"], ",".join(heavy))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "TUNEUI_HOME": tempfile.mkdtemp(prefix="tuneui-bench-")}
    imports, firsts, hws, heavy = [], [], [], set()
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True, env=env)
        imports.append(float(out.stdout))
        out = subprocess.run([sys.executable, "-c", FIRST_SCREEN, repr(time.time())], capture_output=True,
                             text=True, check=True, env=env)
        first, hw, mods = out.stdout.split()[:2] + [(out.stdout.split() + [""])[2]]
        firsts.append(float(first))
        hws.append(float(hw))
        heavy.update(filter(None, mods.split(",")))
    res = {"import_screens_app_s": round(statistics.median(imports), 3),
           "first_screen_s": round(statistics.median(firsts), 3),
           "hardware_shown_s": round(statistics.median(hws), 3),
           "heavy_modules_at_first_screen": sorted(heavy)}
    print(f"{'what':34} {'median s':>9}   (of {args.runs} fresh processes)")
    print(f"{'import screens.app':34} {res['import_screens_app_s']:9.3f}")
    print(f"{'process start -> first screen':34} {res['first_screen_s']:9.3f}")
    print(f"{'process start -> hardware shown':34} {res['hardware_shown_s']:9.3f}")
    print(f"heavy modules loaded by then: {', '.join(res['heavy_modules_at_first_screen']) or 'none'}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
