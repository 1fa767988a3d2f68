"""Plots drawn with textual-plotext: the live loss curves and the token-length histogram."""

from __future__ import annotations

from textual_plotext import PlotextPlot


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
        if total_steps:
            plt.xlim(0, total_steps)
        if not loss and not eval_loss:
            plt.title("loss — waiting for the first steps")
        self.refresh()


class TokenHistogram(PlotextPlot):
    """Example lengths in tokens, with the max_seq_length cut-off drawn as a vertical line."""

    def show(self, lengths: list[int], cutoff: int) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        over = sum(1 for n in lengths if n > cutoff)
        plt.title(f"tokens per example — {over} of {len(lengths)} over the cut-off {cutoff}")
        if lengths:
            plt.hist(lengths, bins=min(30, max(5, len(set(lengths)))), color="cyan")
            plt.vline(cutoff, color="red")
            plt.xlim(0, max(max(lengths), cutoff) * 1.05)
        self.refresh()
