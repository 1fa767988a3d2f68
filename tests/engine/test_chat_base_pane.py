"""The base reply after the tuned one (issue 16, item 1): the Chat screen streams the tuned reply, then
the base reply, with one stop event for both. The tuned stream used to set that event on its way out
whenever its generating thread was still returning when the text ended, so the base pane stayed empty
and the status said "stopped"."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # works whether or not tests/ is a package
from loop_fixtures import tiny_run  # noqa: E402,F401 - session fixture

from tuneui.chat import ChatSession, GenerationSettings, Reply  # noqa: E402

PROMPT = [{"role": "user", "content": "Translate to Zorbish: bread blue"}]
SETTINGS = GenerationSettings(max_new_tokens=6)


def _slow_to_return(session: ChatSession) -> None:
    """generate() that lingers after its last token, as a busy machine makes it (the race, made sure)."""
    generate = session.model.generate

    def lingering(*args, **kwargs):
        out = generate(*args, **kwargs)
        time.sleep(0.3)
        return out

    session.model.generate = lingering


def test_a_finished_stream_leaves_the_shared_stop_event_alone_and_the_base_answers(tiny_run):
    session = ChatSession.load(tiny_run)
    _slow_to_return(session)
    stop = threading.Event()
    tuned, base = Reply(), Reply()
    list(session.stream(PROMPT, settings=SETTINGS, stop=stop, reply=tuned))
    assert not stop.is_set() and not tuned.stopped
    pieces = list(session.stream(PROMPT, base=True, settings=SETTINGS, stop=stop, reply=base))
    assert pieces and base.tokens > 0 and not base.stopped


def test_a_consumer_that_leaves_early_still_ends_the_generation(tiny_run):
    session = ChatSession.load(tiny_run)
    stop = threading.Event()
    stream = session.stream(PROMPT, settings=GenerationSettings(max_new_tokens=200), stop=stop)
    next(stream)
    stream.close()  # joins the generating thread: it must stop after its current token, not run 200
    assert not stop.is_set()
    assert session._lock.acquire(timeout=5)  # the model is free again
    session._lock.release()


def test_the_users_stop_still_stops(tiny_run):
    session = ChatSession.load(tiny_run)
    stop = threading.Event()
    reply = Reply()
    for _ in session.stream(PROMPT, settings=GenerationSettings(max_new_tokens=200), stop=stop, reply=reply):
        stop.set()
    assert reply.stopped and reply.tokens < 200
