"""Chat with a tuned model, and with its base model side by side, streaming tokens as they come.

The base answer of a LoRA run comes from the same weights with the adapter switched off
(`disable_adapter()`), so side by side costs no second copy of the model. Prompts are rendered with
the chat template saved next to the adapter (the one training used) and generation stops at the
tokenizer's EOS, so a tuned model ends its reply where training taught it to.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneui.contract.errors import TuneuiError
from tuneui.contract.loop import GenerationSettings, Reply, ValidationPrompt
from tuneui.data.schema import Conversation

SAVED_EXAMPLES = "chat_examples.jsonl"


@dataclass
class ChatSession:
    """A loaded tuned model (plus the means to answer as its base) and its tokenizer."""

    model: Any
    tokenizer: Any
    kind: str = "peft"  # "peft": base = adapter off; "full": base is a separate model, loaded on demand
    base_model: str | None = None
    run_dir: Path | None = None
    name: str = ""
    _base: Any = field(default=None, repr=False)
    _base_loader: Callable[[], Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> ChatSession:
        """Open RUN_DIR, ADAPTER_DIR or a full/merged model directory."""
        from tuneui.runload import load_causal_lm, load_run

        loaded = load_run(path)
        art = loaded.art
        session = cls(loaded.model, loaded.tokenizer, kind=art.kind, base_model=art.base_model,
                      run_dir=art.run_dir, name=art.name)
        if art.kind == "full" and art.base_model:
            session._base_loader = lambda: load_causal_lm(art.base_model, art)
        return session

    @property
    def has_base(self) -> bool:
        return self.kind == "peft" or self._base_loader is not None or self._base is not None

    # Generation ---------------------------------------------------------------------------------
    def _base_context(self):
        if self.kind == "peft":
            return self.model, self.model.disable_adapter()
        if self._base is None:
            if self._base_loader is None:
                raise TuneuiError("this model has no known base model to compare with (a merged export?)")
            self._base = self._base_loader()
        return self._base, contextlib.nullcontext()

    def prompt_ids(self, messages: Conversation):
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The template already holds every special token; letting the tokenizer add a BOS again would
        # show the model a sequence it never saw in training.
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)

    def stream(self, messages: Conversation, *, base: bool = False, settings: GenerationSettings | None = None,
               stop: threading.Event | None = None, reply: Reply | None = None) -> Iterator[str]:
        """Yield the reply's text piece by piece; `stop.set()` ends it after the current token.

        `reply`, when given, is filled in as the text arrives (tokens, stopped, finished)."""
        import torch
        from transformers import (
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        settings = (settings or GenerationSettings()).validate()
        wanted: threading.Event = stop or threading.Event()  # the caller's: set by the user, only read here
        # This stream's own brake: pulled when the consumer leaves early. Never the caller's event: the
        # Chat screen shares one between the tuned and the base reply, and the tuned stream setting it
        # on the way out (the generating thread was still returning when the text ended) left the base
        # pane empty and said "stopped".
        halt = threading.Event()
        reply = reply if reply is not None else Reply()
        if not messages or messages[-1]["role"] != "user":
            raise TuneuiError("the conversation must end with a user message")
        enc = self.prompt_ids(messages)
        eos = self.tokenizer.eos_token_id

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return halt.is_set() or wanted.is_set()

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=600)
        sampling = settings.temperature > 0
        kwargs = dict(max_new_tokens=settings.max_new_tokens, do_sample=sampling, eos_token_id=eos,
                      pad_token_id=self.tokenizer.pad_token_id, streamer=streamer, use_cache=True,
                      stopping_criteria=StoppingCriteriaList([_Stop()]))
        if sampling:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        result: dict = {}

        def run() -> None:
            try:
                with self._lock:  # one generation at a time: the adapter switch is model-wide state
                    model, ctx = self._base_context() if base else (self.model, contextlib.nullcontext())
                    device = next(model.parameters()).device
                    with ctx, torch.no_grad():
                        out = model.generate(**{k: v.to(device) for k, v in enc.items()}, **kwargs)
                new = out[0, enc["input_ids"].shape[1]:]
                result["tokens"] = int(new.numel())
                result["eos"] = bool(new.numel()) and int(new[-1]) == eos
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread below
                result["error"] = exc
                streamer.end()

        worker = threading.Thread(target=run, name="tuneui-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                reply.text += piece
                if piece:
                    yield piece
        finally:
            # A consumer that stops iterating early must not leave generation running (and the
            # model lock held) until max_new_tokens: stop after the current token.
            if worker.is_alive() and "error" not in result:
                halt.set()
            worker.join()
        if "error" in result:
            raise result["error"]
        reply.tokens = result.get("tokens", 0)
        reply.finished = result.get("eos", False)
        reply.stopped = wanted.is_set() and not reply.finished

    def reply(self, messages: Conversation, *, base: bool = False,
              settings: GenerationSettings | None = None) -> Reply:
        out = Reply()
        for _ in self.stream(messages, base=base, settings=settings, reply=out):
            pass
        out.text = out.text.strip()
        return out

    def side_by_side(self, messages: Conversation, settings: GenerationSettings | None = None
                     ) -> tuple[Reply, Reply]:
        """(tuned, base) answers to the same conversation."""
        return self.reply(messages, settings=settings), self.reply(messages, base=True, settings=settings)


# Prompts and saved examples ----------------------------------------------------------------------
def validation_prompts(run_dir: str | Path | None, limit: int = 50) -> list[ValidationPrompt]:
    """Validation conversations up to their last user turn, with the replies the data expects (none
    without a run). A preference run's held-out prompts expect their chosen (or desirable) reply."""
    if run_dir is None or not (Path(run_dir) / "data" / "val.parquet").exists():
        return []
    from tuneui.evaluate import tasks_from
    from tuneui.training.dataset import read_split

    data = read_split(Path(run_dir))
    val = [_with_good_reply(e) for e in data.val_full] if data.val_full else data.val
    return [ValidationPrompt(list(p), ref) for p, ref in tasks_from(val, limit)]


def _with_good_reply(example) -> Conversation:
    """The conversation that ends with the reply the data prefers: an SFT example as it is, a pair's prompt and
    its chosen reply, a KTO prompt and its desirable reply (an undesirable one is no reference: it ends on the
    prompt, which `tasks_from` skips)."""
    if example.chosen is not None:
        return example.messages + example.chosen
    if example.completion is not None:
        return example.messages + (example.completion if example.label else [])
    return example.messages


def save_example(run_dir: str | Path, messages: Conversation) -> Path:
    """Append a conversation to <run>/chat_examples.jsonl (messages format) for the next iteration."""
    from tuneui.contract.fsutil import atomic_write_text

    conv = [{"role": m["role"], "content": m["content"]} for m in messages if m.get("content", "").strip()]
    if not any(m["role"] == "assistant" for m in conv) or conv[-1]["role"] != "assistant":
        raise TuneuiError("only a conversation that ends with a reply can be saved as a training example")
    path = Path(run_dir) / SAVED_EXAMPLES
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    return atomic_write_text(path, old + json.dumps({"messages": conv}, ensure_ascii=False) + "\n")
