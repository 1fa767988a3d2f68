"""The wizard must start fast: importing it pulls in no ML stack."""

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "datasets", "bitsandbytes", "trl", "accelerate")


def test_import_screens_app_is_light():
    code = ("import sys, tuneui.screens.app, tuneui.screens.train, tuneui.screens.clean, tuneui.screens.technique; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at startup: {out.stdout.strip()}"


def test_every_step_module_imports_light():
    code = ("import sys\nfrom tuneui.screens.state import STEP_NAMES\nimport importlib\n"
            "for n in STEP_NAMES: importlib.import_module('tuneui.screens.' + n)\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
