"""Take the README's pictures of a real run: `python docs/screenshots/take.py RUN_DIR`.

The training screen is `tuneui monitor RUN_DIR` as a user sees it (the real app, the real engine, the
run's own events.jsonl), saved as SVG; the Technique step is the wizard's on the offline demo, with this
machine's hardware; the progress lines are what `tuneui train` printed for that run,
taken from a pty capture the caller saves beside it. Nothing here is canned: the snapshot tests cover
the canned states.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


async def monitor_svg(run_dir: Path, out: Path, size: tuple[int, int] = (110, 34)) -> None:
    from tuneui.screens.app import TuneApp

    app = TuneApp(monitor=run_dir.resolve(), first_run=False)
    async with app.run_test(size=size) as pilot:
        for _ in range(20):  # the follower reads events.jsonl in a worker: let it catch up
            await pilot.pause(0.2)
        app.screen.set_focus(None)
        await pilot.pause(0.5)
        out.write_text(app.export_screenshot(title="tuneui monitor"), encoding="utf-8")


async def technique_svg(out: Path, size: tuple[int, int] = (110, 40)) -> None:
    """The Technique step of the wizard on the offline demo, on this machine's own hardware."""
    from tuneui.screens.app import TuneApp

    app = TuneApp(demo=True, first_run=False)
    async with app.run_test(size=size) as pilot:
        # Through the steps as a user goes, Next once each step's work (hardware probe, the demo
        # dataset, its cleaning) is done, so the Technique step sizes the plan from the real data.
        for _ in range(120):
            if getattr(app.screen, "STEP", None) == "technique":
                break
            await pilot.pause(0.5)
            await pilot.press("ctrl+n")
        for _ in range(20):
            await pilot.pause(0.5)
        app.screen.set_focus(None)
        await pilot.pause(0.5)
        out.write_text(app.export_screenshot(title="tuneui"), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0], "events.jsonl").is_file():
        print("usage: python docs/screenshots/take.py RUN_DIR  (a run directory holding events.jsonl)",
              file=sys.stderr)
        return 2
    out = HERE / "train.svg"
    asyncio.run(monitor_svg(Path(argv[0]), out))
    print(f"wrote {out}")
    asyncio.run(technique_svg(HERE / "technique.svg"))
    print(f"wrote {HERE / 'technique.svg'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
