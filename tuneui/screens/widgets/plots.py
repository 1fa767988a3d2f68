"""Plots drawn with textual-plotext: the live loss curves and the token-length histogram."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual_plotext import PlotextPlot

if TYPE_CHECKING:
    from tuneui.screens.run_model import PreferenceCurves


def _step_axis(plt: Any, total_steps: int | None, *curves: list[tuple[int, float]]) -> None:
    """The x-axis from 0 to total_steps, or to the last point past it (a file replaced under the monitor,
    a run resumed with more steps): plotext fails to draw a lone point outside its limits."""
    if total_steps:
        plt.xlim(0, max([total_steps, *(s for points in curves for s, _ in points)]))


class LossPlot(PlotextPlot):
    """Training loss and eval loss against the optimizer step."""

    def show(self, loss: list[tuple[int, float]], eval_loss: list[tuple[int, float]],
             total_steps: int | None = None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss")
        plt.xlabel("step")
        if loss:
            plt.plot([s for s, _ in loss], [v for _, v in loss], label="train", marker="braille", color="cyan")
        if eval_loss:
            plt.scatter([s for s, _ in eval_loss], [v for _, v in eval_loss], label="eval", marker="●",
                        color="orange")
        _step_axis(plt, total_steps, loss, eval_loss)
        if not loss and not eval_loss:
            plt.title("loss — waiting for the first steps")
        self.refresh()


class RewardPlot(PlotextPlot):
    """A preference run's implicit rewards (left axis) and preference accuracy (right axis, 0 to 1)."""

    def show(self, pref: PreferenceCurves, total_steps: int | None = None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("rewards · acc")  # accuracy on the right axis, 0 to 1; short enough for 80 columns
        plt.xlabel("step")
        for series, label, color in ((pref.chosen, "chosen", "green"), (pref.rejected, "rejected", "red"),
                                     (pref.margin, "margin", "cyan")):
            if series:
                plt.plot([s for s, _ in series], [v for _, v in series], label=label, marker="braille", color=color)
        if pref.accuracy:
            plt.plot([s for s, _ in pref.accuracy], [v for _, v in pref.accuracy], label="acc →", marker="braille",
                     color="yellow", yside="right")
        if pref.val_accuracy:
            plt.scatter([s for s, _ in pref.val_accuracy], [v for _, v in pref.val_accuracy], label="val acc →",
                        marker="●", color="orange", yside="right")
        if pref.accuracy or pref.val_accuracy:
            plt.ylim(0, 1, yside="right")  # type: ignore[arg-type]  # plotext's stub types yside as a float
        _step_axis(plt, total_steps, pref.chosen, pref.rejected, pref.margin, pref.accuracy, pref.val_accuracy)
        self.refresh()


class TokenHistogram(PlotextPlot):
    """Example lengths in tokens (the engine's histogram), with the cut-off drawn as a red line."""

    def show(self, histogram: dict, cutoff: int, over: int, measured: int) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"tokens per example: {over} of {measured} longer than the cut-off ({cutoff}, red)")
        edges, counts = list(histogram.get("edges") or []), list(histogram.get("counts") or [])
        if counts and len(edges) == len(counts) + 1:
            mids = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
            plt.bar(mids, counts, width=0.9, color="cyan")
            # Explicit ticks: plotext's own choice for bars varies from run to run.
            step = max(1, len(edges) // 5)
            ticks = edges[::step]
            plt.xticks(ticks, [str(int(t)) for t in ticks])
            if cutoff <= edges[-1] * 2:
                plt.vline(cutoff, color="red")
                plt.xlim(0, max(edges[-1], cutoff) * 1.05)
            else:  # far beyond the longest example: drawing it would squash the bars into a corner
                plt.xlim(0, edges[-1] * 1.05)
                plt.title(f"tokens per example: all {measured} fit the cut-off ({cutoff}, beyond the right edge)")
        self.refresh()
