"""The run's event stream: `events.jsonl` in the run directory, one JSON object per line, typed.

Every event has `type`, `time` (unix seconds) and `step`; the rest depends on the type (the models
below). The training process writes them with `EventWriter`; the wizard, `tuneui monitor` and
`compare` read them with `read_events` / `EventFollower`. The writer flushes per line so a follower
sees events as they happen; a reader tolerates a partially written last line (the writer may be
mid-write or killed), lines that are not events, and fields of the wrong type or out of range (a
field that does not parse is dropped, the event kept; a time must be a real date, a count must not be
negative, text has no lone surrogates), so one bad line never takes a monitor down.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tuneui.contract.rundir import EVENTS_FILE, run_is_alive

TERMINAL_TYPES = frozenset({"finished", "failed", "stopped"})
# How a training process ends, by the last event it wrote (tuneui train's exit codes).
EXIT_CODES = {"finished": 0, "failed": 1, "stopped": 130}


# What a monitor can show without overflowing a clock, a progress bar or a terminal.
Time = Annotated[float, Field(ge=0, lt=1e11, allow_inf_nan=False)]  # unix seconds, before year 5000
Count = Annotated[int, Field(ge=0, lt=2**63)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Event(BaseModel):
    # extra="allow": later versions add fields; a reader of today keeps them, it does not choke.
    model_config = ConfigDict(extra="allow", frozen=True)

    time: Time = 0.0
    step: Count = 0

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class Preparing(_Event):
    """Work before the run can start that the user waits for: fetching or converting a model."""

    type: Literal["preparing"] = "preparing"
    message: str = ""


class Started(_Event):
    type: Literal["started"] = "started"
    run_dir: str | None = None
    model: str | None = None
    technique: str | None = None
    total_steps: Count | None = None
    train_examples: Count | None = None
    val_examples: Count | None = None
    dropped_examples: Count | None = None  # refused by the loss masking, all reasons together
    refusals: dict[str, Count] | None = None  # the same, per reason (tuneui.templates.REASONS)
    truncated_examples: Count | None = None
    trainable_params: Count | None = None
    total_params: Count | None = None
    resumed_from: str | None = None
    pid: Count | None = None


class Step(_Event):
    type: Literal["step"] = "step"
    loss: float | None = None  # NaN and inf are kept: they are exactly what a user must see
    lr: float | None = None
    grad_norm: float | None = None
    epoch: float | None = None
    tokens_per_s: Amount | None = None
    mem_bytes: Amount | None = None
    total_steps: Count | None = None
    # Preference objectives (dpo, kto, orpo, simpo): TRL's implicit rewards, beta * log(policy / reference), averaged over
    # the step's replies; accuracy is the share of pairs whose chosen reward beats the rejected one.
    rewards_chosen: float | None = None
    rewards_rejected: float | None = None
    reward_margin: float | None = None
    reward_accuracy: float | None = None
    kl: float | None = None  # kto: its estimate of the KL between policy and reference
    # orpo: the mean log odds ratio of chosen over rejected, its log-sigmoid (the term the loss weighs by beta) and
    # the NLL of the chosen replies (ORPO's SFT term). orpo/simpo have no reference: their rewards are
    # beta * the mean log-probability per reply token, not a ratio to a reference.
    log_odds_chosen: float | None = None
    log_odds_ratio: float | None = None
    nll_loss: float | None = None


class Eval(_Event):
    type: Literal["eval"] = "eval"
    eval_loss: float | None = None
    base: bool = False  # the base model's loss, measured before training
    # Preference objectives: the validation pairs (replies for kto) under the policy and the reference, summed
    # log-probabilities per reply as TRL's logps. accuracy: the share of pairs whose chosen reward (beta * log
    # policy/reference) beats the rejected one; margin: their mean difference; logp_drift: the chosen replies'
    # mean log-probability under the policy minus under the reference (below 0: they became less likely).
    pref_accuracy: Annotated[float, Field(ge=0, le=1)] | None = None
    pref_margin: float | None = None
    logp_chosen: float | None = None
    logp_rejected: float | None = None
    logp_drift: float | None = None
    pref_pairs: Count | None = None  # pairs (kto: replies) measured

    @property
    def is_preference(self) -> bool:
        return self.pref_margin is not None or self.pref_accuracy is not None

    def preference_summary(self) -> str:
        """The preference figures in one line, as `tuneui train` and the wizard's log show them."""
        parts = []
        if self.pref_accuracy is not None:
            pairs = f" of {self.pref_pairs} pairs" if self.pref_pairs else ""
            parts.append(f"preference accuracy {self.pref_accuracy:.0%}{pairs}")
        if self.pref_margin is not None:
            parts.append(f"margin {self.pref_margin:.3f}")
        if self.logp_drift is not None:
            parts.append(f"chosen logp {self.logp_drift:+.2f} vs reference")
        return ", ".join(parts)


class Checkpoint(_Event):
    type: Literal["checkpoint"] = "checkpoint"
    path: str = ""


class Warning(_Event):  # noqa: A001 - the event's own name in events.jsonl
    type: Literal["warning"] = "warning"
    reason: str = ""
    advice: str = ""


class Finished(_Event):
    type: Literal["finished"] = "finished"
    train_loss: float | None = None
    eval_loss: float | None = None
    adapter_path: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)


class Failed(_Event):
    type: Literal["failed"] = "failed"
    reason: str = ""
    advice: str = ""


class Stopped(_Event):
    type: Literal["stopped"] = "stopped"
    reason: str = ""
    checkpoint: str | None = None
    advice: str = ""


Event = Annotated[Preparing | Started | Step | Eval | Checkpoint | Warning | Finished | Failed | Stopped,
                  Field(discriminator="type")]
EVENT_TYPES = ("preparing", "started", "step", "eval", "checkpoint", "warning", "finished", "failed", "stopped")
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(obj: Any) -> Event | None:
    """An event from a decoded JSON object; None when it is not one. A field of the wrong type is
    dropped (and the event kept) so a monitor survives any line a writer or an editor left."""
    if not isinstance(obj, dict) or obj.get("type") not in EVENT_TYPES:
        return None
    data = dict(obj)
    for _ in range(len(data) + 1):
        try:
            return _ADAPTER.validate_python(data)
        except ValidationError as exc:
            bad = {str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) > 1}
            bad.discard("type")
            if not bad or not bad & data.keys():
                return None
            for key in bad:
                data.pop(key, None)
    return None


def _without_surrogates(value: Any) -> Any:
    # JSON's "\ud800" escapes decode to lone surrogates, which no terminal can print.
    root: dict[str, Any] = {"": value}
    stack: list[dict[Any, Any] | list[Any]] = [root]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                if _has_surrogate(item):
                    node[key] = item.encode("utf-8", "replace").decode("utf-8")
            elif isinstance(item, (dict, list)):
                stack.append(item)
    return root[""]


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_line(line: str) -> Event | None:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    return parse_event(_without_surrogates(obj))


def _jsonable(value: Any) -> Any:
    # JSON has no NaN/inf; a NaN loss is exactly what a user must see, so say it as a string.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class EventWriter:
    def __init__(self, run_dir: str | Path, *, enabled: bool = True):
        self.path = Path(run_dir) / EVENTS_FILE
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, event: Event) -> Event:
        """Stamp the event with the current time and append it as one line."""
        event = event.model_copy(update={"time": round(time.time(), 3)})
        if self.enabled:
            # Unset optional fields are left out (an SFT step has no rewards): every reader parses the line into
            # the typed model, whose default for each of them is None, so the event read back is the same.
            line = json.dumps(_jsonable(event.model_dump(exclude_none=True)), ensure_ascii=False) + "\n"
            # O_APPEND + one write per event: lines from a killed writer are never interleaved.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return event


def read_events(run_dir: str | Path) -> list[Event]:
    path = Path(run_dir) / EVENTS_FILE
    events: list[Event] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.endswith("\n") and (ev := parse_line(line)):
                    events.append(ev)
    except FileNotFoundError:
        return []
    return events


class EventFollower:
    """Incrementally reads new complete lines from events.jsonl: a `tail -F` for the UI.

    Like `tail -F`, it notices when the file is replaced (another inode) or truncated (smaller than
    what was read, or its first bytes changed) and then reads the new file from its start, rather
    than waiting at an old offset and skipping the events written meanwhile."""

    HEAD = 64  # bytes of the file's start remembered to notice a rewrite that outgrew the old size

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS_FILE
        self._offset = 0
        self._partial = b""
        self._ident: tuple[int, int] | None = None
        self._head = b""

    def poll(self) -> list[Event]:
        try:
            fh = self.path.open("rb")
        except OSError:  # not there (yet, or deleted): nothing new
            return []
        with fh:
            st = os.fstat(fh.fileno())
            ident = (st.st_dev, st.st_ino)
            if ident != self._ident or st.st_size < self._offset or fh.read(len(self._head)) != self._head:
                self._ident, self._offset, self._partial, self._head = ident, 0, b"", b""
            fh.seek(self._offset)
            chunk = fh.read()
        if len(self._head) < self.HEAD:
            self._head = (self._head + chunk)[:self.HEAD]
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        return [ev for raw in lines if (ev := parse_line(raw.decode("utf-8", "replace")))]

    def follow(self, *, interval: float = 0.2, stop_when_terminal: bool = True,
               is_alive: Callable[[], bool] | None = None) -> Iterator[Event]:
        """Yield events as they arrive until a terminal event (or `is_alive()` turns false)."""
        while True:
            events = self.poll()
            yield from events
            if stop_when_terminal and any(e.terminal for e in events):
                return
            if is_alive is not None and not is_alive():
                yield from self.poll()
                return
            time.sleep(interval)


def run_status(run_dir: str | Path) -> str:
    """'finished', 'failed', 'stopped', 'running' (or died without a word: 'interrupted'), or 'new'."""
    events = read_events(run_dir)
    if not events:
        return "new"
    last = events[-1].type
    if last in TERMINAL_TYPES:
        return last
    return "running" if run_is_alive(run_dir) else "interrupted"
