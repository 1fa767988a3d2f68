"""Base-vs-tuned generation, batched with the KV cache, that sees whether replies stop.

A real model makes generation the expensive part of an evaluation, so prompts go through
`model.generate` in batches: left-padded (new tokens are appended on the right, so pads must not
sit between a prompt and its reply), sorted by length so a batch pads little, greedy, with the
KV cache. Each reply records whether it ended with an end-of-turn/EOS token before the token cap:
the share that did is the stop rate, the figure that shows the "endless generation" bug (a model
that never learned to emit its end-of-turn token) which a validation loss hides.

Exact match is case-sensitive: a format task ("2021-03-05", JSON keys, a fixed casing) is wrong
when the case is wrong. The case-insensitive figure is reported beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tuneui.data.schema import Conversation


@dataclass
class Generation:
    text: str  # the reply, end token and everything after it removed, whitespace-trimmed
    stopped: bool  # an end token came before the cap
    new_tokens: int  # tokens generated up to and including the end token


def squash(text: str) -> str:
    """Whitespace runs collapsed and ends trimmed; case kept."""
    return re.sub(r"\s+", " ", text).strip()


def end_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a reply: the tokenizer's EOS and the generation config's EOS ids."""
    ids: list[int] = []
    gen = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, gen):
        for i in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(i, int) and i not in ids:
                ids.append(i)
    return ids


def split_reply(new_ids: list[int], ends: set[int]) -> tuple[list[int], bool]:
    """The reply's tokens up to its first end token, and whether there was one."""
    for i, tok in enumerate(new_ids):
        if tok in ends:
            return new_ids[:i], True
    return new_ids, False


def generate_batched(model, tokenizer, prompts: list[Conversation], *, max_new_tokens: int,
                     batch_size: int = 16, done: Callable[[int, int], None] | None = None) -> list[Generation]:
    """Greedy replies to `prompts` (conversations ending before the reply), in the given order;
    `done(replied, total)` after each batch."""
    import torch

    from tuneui.evaluate import eval_mode

    if not prompts:
        return []
    ends = end_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0]
    # Rendered to text, then tokenized without extra special tokens: exactly how training encodes.
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out: list[Generation | None] = [None] * len(encoded)
    with eval_mode(model) as device, torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = encoded[i]
                ids[row, width - len(seq):] = torch.tensor(seq)
                mask[row, width - len(seq):] = 1
            gen = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
                do_sample=False, use_cache=True, eos_token_id=ends, pad_token_id=pad,
                # An untuned model's own generation_config may ask for sampling; evaluation is greedy.
                temperature=None, top_p=None, top_k=None,
            )
            for row, i in enumerate(idx):
                new = gen[row, width:].tolist()
                reply, stopped = split_reply(new, set(ends))
                text = tokenizer.decode(reply, skip_special_tokens=True).strip()
                out[i] = Generation(text=text, stopped=stopped, new_tokens=len(reply) + int(stopped))
            if done is not None:
                done(min(start + batch_size, len(order)), len(order))
    return [g for g in out if g is not None]


def score_replies(replies: list[Generation], references: list[str]) -> dict:
    """Exact match (case-sensitive, and case-insensitive beside it), token F1, ROUGE-L, stop rate."""
    from tuneui.evaluate import rouge_l, token_f1

    n = len(replies)
    if n == 0:
        return {"exact_match": None, "exact_match_ci": None, "f1": None, "rouge_l": None, "stop_rate": None,
                "mean_new_tokens": None}
    exact = [squash(g.text) == squash(r) for g, r in zip(replies, references, strict=True)]
    exact_ci = [squash(g.text).casefold() == squash(r).casefold() for g, r in zip(replies, references, strict=True)]
    return {
        "exact_match": sum(exact) / n,
        "exact_match_ci": sum(exact_ci) / n,
        "f1": sum(token_f1(g.text, r) for g, r in zip(replies, references, strict=True)) / n,
        "rouge_l": sum(rouge_l(g.text, r) for g, r in zip(replies, references, strict=True)) / n,
        "stop_rate": sum(g.stopped for g in replies) / n,
        "mean_new_tokens": sum(g.new_tokens for g in replies) / n,
    }


def task_metric_batched(model, tokenizer, convs: list[Conversation], *, limit: int = 200,
                        max_new_tokens: int = 48, batch_size: int = 16,
                        done: Callable[[int, int], None] | None = None) -> dict:
    """The task metric on the first `limit` validation conversations: exact match (case-sensitive and
    not), token F1, ROUGE-L, stop rate, and the replies themselves as samples."""
    from tuneui.evaluate import metric_name, tasks_from

    pairs = tasks_from(convs, limit)
    refs = [ref for _, ref in pairs]
    name = metric_name(refs)
    replies = generate_batched(model, tokenizer, [p for p, _ in pairs], max_new_tokens=max_new_tokens,
                               batch_size=batch_size, done=done)
    scores = score_replies(replies, refs)
    samples = [{"prompt": p[-1]["content"], "reference": ref, "output": g.text, "stopped": g.stopped,
                "correct": squash(g.text) == squash(ref)} for (p, ref), g in zip(pairs, replies, strict=True)]
    return {"name": name, "score": scores[name] if pairs else None, **scores, "n": len(pairs),
            "max_new_tokens": max_new_tokens, "samples": samples}


def general_text_loss_batched(model, tokenizer, text: str, *, window: int = 256, batch_size: int = 8) -> float | None:
    """Mean next-token loss over fixed windows of `text` (the forgetting probe), a batch of windows
    per forward pass; the same tokens for base and tuned, whatever their context length."""
    import torch

    from tuneui.evaluate import eval_mode

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    chunks = [ids[i : i + window] for i in range(0, len(ids), window) if len(ids[i : i + window]) > 1]
    if not chunks:
        return None
    total, count = 0.0, 0
    with eval_mode(model) as device, torch.no_grad():
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start : start + batch_size]
            width = max(len(c) for c in batch)
            x = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, chunk in enumerate(batch):
                x[row, : len(chunk)] = torch.tensor(chunk)
                labels[row, : len(chunk)] = torch.tensor(chunk)
                mask[row, : len(chunk)] = 1
            logits = model(input_ids=x.to(device), attention_mask=mask.to(device), use_cache=False).logits.float()
            shift, target = logits[:, :-1], labels[:, 1:].to(device)
            total += float(torch.nn.functional.cross_entropy(shift.reshape(-1, shift.size(-1)), target.reshape(-1),
                                                             ignore_index=-100, reduction="sum"))
            count += int((target != -100).sum())
    return total / count


PROBE_FILE = "probe_1945_roosevelt.txt"
PROBE_NAME = "FDR's 1945 inaugural address, public-domain prose no run trains on"


def probe_text() -> str:
    """The forgetting probe's text: public-domain English prose no demo dataset trains on
    (assets/probe_1945_roosevelt.md says where it comes from)."""
    from tuneui.contract import paths

    return (paths.package_assets() / PROBE_FILE).read_text(encoding="utf-8")


def evaluate_model_batched(model, tokenizer, val_examples: list[dict], val_convs: list[Conversation], collator, *,
                           limit: int, max_new_tokens: int, batch_size: int = 16, probe: str | None = None,
                           probe_window: int = 256, progress: Callable[[str], None] | None = None) -> dict:
    """Validation loss and perplexity, the task metric from batched generation (with the stop
    rate), and the forgetting probe's loss: one model's half of report.json (`evaluate.build_report`).
    `progress` hears what is being measured (the replies generated so far, out of how many)."""
    from tuneui.evaluate import eval_loss, perplexity

    say = progress or (lambda what: None)
    say(f"validation loss on {len(val_examples)} examples")
    loss = eval_loss(model, val_examples, collator, batch_size=batch_size)
    if limit:
        say("generating replies")
    metric = (task_metric_batched(model, tokenizer, val_convs, limit=limit, max_new_tokens=max_new_tokens,
                                  batch_size=batch_size, done=lambda n, total: say(f"{n}/{total} prompts answered"))
              if limit else None)
    say("forgetting probe")
    return {"eval_loss": loss, "perplexity": perplexity(loss), "task": metric,
            **forgetting_probe(model, tokenizer, probe=probe, window=probe_window)}


def forgetting_probe(model, tokenizer, *, probe: str | None = None, window: int = 256) -> dict:
    """The forgetting probe's half of a model's figures (what `evaluate.build_report` compares): the loss and
    perplexity on general text, the vocabulary size (a base at chance knows nothing to forget) and the text's name.
    SFT and preference runs both measure it, base and tuned alike."""
    from tuneui.evaluate import perplexity

    general = general_text_loss_batched(model, tokenizer, probe if probe is not None else probe_text(), window=window)
    return {"general_loss": general, "general_perplexity": perplexity(general), "vocab_size": len(tokenizer),
            "probe": PROBE_NAME if probe is None else "the given probe text"}
