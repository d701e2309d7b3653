"""The fake judge server used by tests: a local HTTP server speaking the OpenAI and Anthropic APIs.

Usage::

    from tests.support.judge_server import JudgeServer

    with JudgeServer(scorer=lambda prompt: 90 if "FLATTER" in prompt else 10) as srv:
        judge = make_judge("openai:gpt-4.1-mini", base_url=srv.base_url)
        ...
        srv.queue("429", "500")  # one-shot behaviours for the next requests
        assert srv.calls == ...

``srv.base_url`` is for OpenAI clients (".../v1"), ``srv.anthropic_base_url`` for Anthropic
clients. ``srv.requests`` holds the JSON bodies (dicts, with ``.path`` and ``.headers`` minus
authorization headers); ``srv.max_in_flight`` the most requests it served at once.
The implementation lives in :mod:`pytest_persona.judges.localserver` so the bench can use it.
"""

from __future__ import annotations

from pytest_persona.judges.localserver import BEHAVIOURS, JudgeServer, RecordedRequest

__all__ = ["BEHAVIOURS", "JudgeServer", "RecordedRequest"]
