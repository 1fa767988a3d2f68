"""A run's experiment trackers (RunConfig.report_to): set up before anything imports them, and told
the run's start and end; a tracker that fails costs a warning, never the run."""

from __future__ import annotations

from typing import Any

from tuneui.contract import events as ev


def setup_trackers(run: Any) -> None:
    """Before anything imports a tracker: trackio reads its folder once, at import, and the Trainer's
    callbacks read their environment when the Trainer is built. Only the main process logs, so only
    it creates the trackers' runs (ConfigError naming the extra to install if one is missing)."""
    if not (run.cfg.report_to and run.is_main):
        return
    from tuneui.trackers import tracker_setup

    run.trackers = tracker_setup(list(run.cfg.report_to), run.run_dir, run_name=run.cfg.name,
                                  resume=run.resume)
    run.trackers.apply()

def log_to_trackers(run: Any, moment: str) -> None:
    """run.toml + the cleaning report at the start, report.json at the end. A tracker that fails here
    costs a warning, not the run (the losses went through the Trainer's own callbacks)."""
    if run.trackers is None:
        return
    from tuneui.trackers import log_run_end, log_run_start

    try:
        (log_run_start if moment == "start" else log_run_end)(run.trackers, run.run_dir)
    except Exception as exc:  # noqa: BLE001 - any tracker library error becomes one warning line
        run.events.emit(ev.Warning(step=run.step, reason=f"could not log the run's {moment} to "
                                    f"{', '.join(run.trackers.report_to)}: {type(exc).__name__}: {exc}",
                                    advice="the run itself is unaffected; its files are in the run folder"))
