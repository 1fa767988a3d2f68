"""The README.md (Hugging Face model card) written next to an exported adapter or model."""

from __future__ import annotations

from tuneui.contract.config import LORA_VARIANT_OFF
from tuneui.contract.evaluation import EvaluationReport, report_rows

HYPERPARAMETERS = ("technique", "learning_rate", "lr_scheduler", "warmup_ratio", "epochs", "max_steps",
                   "micro_batch_size", "gradient_accumulation_steps", "max_seq_length", "packing",
                   "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "freeze_trainable_layers",
                   "optimizer", "weight_decay", "precision", "seed")
LORA_ONLY = {"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"}


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def _data_rows(data: dict) -> list[tuple[str, str]]:
    rows = [("examples loaded", data.get("loaded", "?"))]
    cleaning = data.get("cleaning") or {}
    if cleaning:
        before, after = cleaning.get("before"), cleaning.get("after")
        if before is not None and after is not None:
            rows.append(("after cleaning", f"{after} (removed {before - after})"))
        for f in cleaning.get("filters", []) or []:
            if isinstance(f, dict) and f.get("removed"):
                rows.append((f"  removed: {f.get('name')}", f["removed"]))
    rows += [("train split", data.get("train", "?")), ("validation split", data.get("val", "?"))]
    return rows


# A preference run's own settings, by the objective they apply to (RunConfig refuses them elsewhere).
OBJECTIVE_SETTINGS = {"dpo": ("pref_beta", "dpo_loss_type"), "kto": ("pref_beta", "kto_loss_type"),
                      "orpo": ("pref_beta",), "simpo": ("pref_beta", "simpo_gamma")}


def _objective_rows(values: dict) -> list[tuple[str, object]]:
    """What a preference run optimised and from where it started: a card without them reads as SFT."""
    objective = values.get("objective", "sft")
    rows = [] if objective == "sft" else [("objective", objective)]
    rows += [(k, values[k]) for k in OBJECTIVE_SETTINGS.get(objective, ())]
    return rows + ([("start_from", values["start_from"])] if values.get("start_from") else [])


def _objective_tags(cfg) -> list[str]:
    # the hub's tag for the method (dpo, kto, orpo...), as TRL's own cards carry it
    objective = getattr(cfg, "objective", "sft")
    return [f"- {objective}"] if objective != "sft" else []


def _base_names(base: str) -> tuple[str, str]:
    """(the card's base_model field, the base as the text names it)."""
    if base == "demo":
        from tuneui.demo_model_real import HUB_ID

        return HUB_ID, f"`{HUB_ID}` (tuneui's offline demo model)"
    if base == "demo-tiny":
        return "tuneui-demo-tiny", "tuneui's tiny randomly initialised test model"
    return base, f"`{base}`"


def model_card(art, kind: str, report: EvaluationReport | None, data: dict | None) -> str:
    cfg = art.config
    base = art.base_model or "unknown"
    what = {"adapter": "a LoRA adapter (PEFT, safetensors)", "merged": "a merged model (base + LoRA adapter)",
            "full": "a fine-tuned model (full weights)"}[kind]
    hub_base, shown_base = _base_names(base)
    lines = ["---", f"base_model: {hub_base}",
             "library_name: " + ("peft" if kind == "adapter" else "transformers"),
             "tags:", "- tuneui", "- fine-tuned", *_objective_tags(cfg), "---", "",
             f"# {art.name}", "", f"This is {what} of {shown_base}, fine-tuned with tuneui.", ""]
    if kind == "adapter":
        lines += ["```python", "from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer",
                  "", 'model = AutoPeftModelForCausalLM.from_pretrained("THIS_FOLDER")',
                  'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")', "```", ""]
    else:
        lines += ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  'model = AutoModelForCausalLM.from_pretrained("THIS_FOLDER")',
                  'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")', "```", ""]
    lines += ["Prompts must use the chat template saved with the tokenizer "
              "(`tokenizer.apply_chat_template(..., add_generation_prompt=True)`): it is the one training used.", ""]
    if data:
        lines += ["## Data", "", f"Dataset: `{cfg.dataset if cfg else 'unknown'}`", ""]
        lines += _table(("", "examples"), _data_rows(data)) + [""]
    if cfg is not None:
        values = cfg.model_dump(mode="json")
        rows = [(k, values[k]) for k in HYPERPARAMETERS
                if k in values and (cfg.uses_peft or k not in LORA_ONLY)
                and (k != "freeze_trainable_layers" or cfg.technique == "freeze")]
        # the LoRA variants and NEFTune, where the run used them
        rows += [(k, values[k]) for k in (*LORA_VARIANT_OFF, "neftune_noise_alpha")
                 if values.get(k) is not None and values.get(k) != LORA_VARIANT_OFF.get(k)]
        rows += _objective_rows(values)
        lines += ["## Training", ""] + _table(("setting", "value"), rows) + [""]
    if report:
        lines += ["## Evaluation", "", "On the held-out validation split, base model vs this fine-tune:", ""]
        lines += _table(("metric", "base", "tuned"), report_rows(report)) + [""]
        if report.forgetting is not None and report.forgetting.verdict:
            lines += [f"Forgetting probe: {report.forgetting.verdict}.", ""]
        extra = [("train loss", report.train_loss), ("steps", report.steps), ("wall time (s)", report.wall_time_s)]
        lines += [f"- {k}: {v if not isinstance(v, float) else round(v, 4)}" for k, v in extra if v is not None]
        lines.append("")
    if cfg is not None:
        lines += ["## Reproduce", "", "`run.toml` in this folder is the complete run configuration:", "",
                  "```sh", "tuneui train run.toml -o RUN_DIR", "```", ""]
    return "\n".join(lines)
