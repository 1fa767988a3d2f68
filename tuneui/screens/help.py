"""The help panel: what each step does and the concepts behind it, a few sentences each."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

CONCEPTS = {
    "LoRA": "LoRA freezes the model and trains two small matrices beside each chosen layer, usually well "
    "under 1% of the weights. It needs far less memory than a full fine-tune and the result is a small "
    "adapter file you can switch on and off.",
    "QLoRA": "QLoRA is LoRA on top of a base model stored in 4-bit (NF4). The base takes about a quarter of "
    "the memory, so bigger models fit on one GPU; training is a little slower and the quality is close to LoRA.",
    "Full fine-tuning": "Every weight is trained. It can learn the most but needs memory for the weights, "
    "gradients and optimizer state (about 16 bytes per parameter with Adam), and it forgets more easily.",
    "ZeRO / FSDP": "With several GPUs, ZeRO (DeepSpeed) and FSDP (PyTorch) split the optimizer state, the "
    "gradients and optionally the weights across the GPUs instead of copying them to each one, so a model "
    "too big for one GPU can still be trained.",
    "Overfitting": "The model memorises the training examples instead of learning the pattern: training "
    "loss keeps falling while validation loss rises. Fewer epochs, more data or a lower learning rate help.",
    "Catastrophic forgetting": "Training hard on a narrow dataset can erase what the model knew before. "
    "LoRA, a low learning rate and few epochs limit it; tuneui's report compares base and tuned models.",
    "Loss": "How surprised the model is by the training answers; lower is better. It should fall quickly "
    "at first and then flatten. A loss that jumps up or becomes NaN means the run diverged.",
    "Masked tokens": "Only the assistant's answers are trained. The prompt is shown to the model but its "
    "tokens are masked from the loss, so the model learns to answer, not to repeat questions.",
}

STEP_HELP = {
    "welcome": ("Welcome", "The machine tuneui found and your recent runs. Start a **new run**, or select a "
                "run and **open** it (watch it live) or **resume** it. The *what-if* box plans for other "
                "hardware, e.g. `1x24GiB`, `2x80GiB`, `A100-80GB` or `cpu`.", ["ZeRO / FSDP"]),
    "model": ("Model", "Pick the base model: the small offline **demo** model (trains in a minute on a CPU), "
              "a local model directory, or a Hugging Face hub id. Nothing is downloaded or loaded here; "
              "tuneui only reads the model's config.", []),
    "dataset": ("Dataset", "Pick a data file (JSONL, JSON, CSV/TSV, Parquet, text), or a bundled sample: Sample "
                "data (questions and answers, for SFT) or Sample pairs (a better and a worse answer to each "
                "question, for preference tuning). tuneui detects the format "
                "and shows why; fix the column mapping if it guessed wrong. Problems are listed with their "
                "line numbers; bad lines are skipped, your file is never modified.", []),
    "clean": ("Clean", "Filters that remove duplicates, over-long, empty and low-quality examples. Toggle "
              "each one and see what it would remove. The histogram shows example lengths in tokens "
              "against the cut-off; below is one example exactly as it will be trained.",
              ["Masked tokens"]),
    "technique": ("Technique", "What to teach (SFT, or preference tuning when the data has answers marked "
                  "better or worse) and the finished run to start from; then how to train: the "
                  "recommendation for your model and hardware, with the reasons. The table estimates peak "
                  "memory per GPU for each option; select a row and press Enter to override.",
                  ["LoRA", "QLoRA", "Full fine-tuning", "ZeRO / FSDP"]),
    "settings": ("Settings", "The hyperparameters, pre-filled with the recommended values. Each has a "
                 "one-line explanation; advanced ones are folded away. Invalid values are flagged as you "
                 "type.", ["Overfitting", "Catastrophic forgetting"]),
    "train": ("Train", "The run happens in its own process: you can quit tuneui and come back (`tuneui "
              "monitor RUN_DIR`, or open it from the Welcome screen). **Stop** saves a checkpoint; "
              "**Resume** continues from it.", ["Loss", "Overfitting"]),
    "chat": ("Chat", "Talk to the tuned model next to the base model.", ["Catastrophic forgetting"]),
    "export": ("Export", "Save the adapter or a merged model with a model card.", []),
}


def help_markdown(step: str) -> str:
    title, text, concepts = STEP_HELP.get(step, ("Help", "", []))
    keys = ("**Keys**: `Ctrl+N` next step · `Esc` back · `Ctrl+P` all steps and actions · `F1` this help · "
            "`Ctrl+T` light/dark · `Ctrl+Q` quit. `Tab` moves between fields.")
    parts = [f"# {title}", text, keys, "## Concepts"]
    shown = concepts + [c for c in CONCEPTS if c not in concepts]
    parts += [f"**{name}** — {CONCEPTS[name]}" for name in shown]
    return "\n\n".join(parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help")]

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.step))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
