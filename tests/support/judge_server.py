"""A small local judge server speaking the OpenAI and Anthropic HTTP APIs.

Used by the judge bench and (through ``tests/support/judge_server.py``) by the tests. It binds
127.0.0.1 only, on a free port, runs in daemon threads and stops when its context exits.

* ``POST /v1/chat/completions``: a chat completion with ``choices[0].logprobs.content[0]
  .top_logprobs``, ``usage`` and ``model``.
* ``POST /v1/messages``: an Anthropic Messages API response with ``usage``.

What it answers is decided by ``scorer(prompt_text)``, which returns an ``int`` (that number,
probability ~0.97, with non-numeric filler tokens), a ``str`` (that literal token, e.g.
"REFUSAL"), or a ``dict`` token -> probability (an exact top-logprobs distribution; Anthropic
answers its most probable token; a NaN probability is sent as a NaN logprob). One-shot behaviours queued with :meth:`queue` apply to the next
requests in order: "429" (then the retry succeeds; retry-after 0), "500", "slow" (sleeps past
the client timeout), "garbage" (non-numeric top tokens), "refusal" (REFUSAL), "lowmass"
(numeric mass under 0.25), "badjson" (a 200 response that is not JSON), "trickle" (the
normal answer, sent one byte every ``trickle_seconds``: each byte resets the SDK's per-read
timeout, so only an overall deadline ends the call).
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Scorer = Callable[[str], "int | float | str | dict[str, float]"]
BEHAVIOURS = ("429", "500", "slow", "garbage", "refusal", "lowmass", "badjson", "trickle")
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "proxy-authorization"}


class RecordedRequest(dict[str, Any]):
    """The JSON body of a request (a dict), with ``.path`` and ``.headers`` (no auth headers)."""

    path: str
    headers: dict[str, str]


def _dated(model: str, suffix: str) -> str:
    """What a provider reports: a dated snapshot as asked, an alias with a date appended."""
    return model if re.search(r"-(\d{4}-\d{2}-\d{2}|\d{8})$", model) else model + suffix


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "\n".join(parts)


def _logprob(p: float) -> float:
    """log(p); a NaN probability is sent as a NaN logprob (a malformed server), 0 as -1e4."""
    if math.isnan(p):
        return p
    return math.log(p) if p > 0 else -1e4


class _Server(ThreadingHTTPServer):
    """A deeper listen backlog: 16+ concurrent clients must not see connection resets."""

    request_queue_size = 256
    daemon_threads = True


class JudgeServer:
    def __init__(
        self,
        scorer: Scorer | None = None,
        *,
        latency: float = 0.0,
        default_score: int = 50,
        slow_seconds: float = 3.0,
        trickle_seconds: float = 0.05,
        openai_model: str | None = None,
        anthropic_model: str | None = None,
    ) -> None:
        self.scorer: Scorer = scorer or (lambda prompt: default_score)
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.trickle_seconds = trickle_seconds
        #: trickled responses cut off by the client before their last byte
        self.trickles_abandoned = 0
        self.openai_model = openai_model
        self.anthropic_model = anthropic_model
        self.calls = 0
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._behaviours: deque[str] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------
    def queue(self, *behaviours: str) -> JudgeServer:
        for b in behaviours:
            if b not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {b!r}; known: {', '.join(BEHAVIOURS)}")
        with self._lock:
            self._behaviours.extend(behaviours)
        return self

    def reset(self) -> None:
        with self._lock:
            self.calls = 0
            self.requests.clear()
            self.max_in_flight = 0
            self._behaviours.clear()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (…/v1)."""
        return f"{self.root_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.root_url

    def start(self) -> JudgeServer:
        if self._httpd is not None:
            return self
        self._stop.clear()
        server = self

        class Handler(_Handler):
            owner = server

        httpd = _Server(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="judge-server",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> JudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------
    def _next_behaviour(self) -> str | None:
        with self._lock:
            return self._behaviours.popleft() if self._behaviours else None

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    owner: JudgeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK
        # add ~40 ms to every keep-alive response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    trickle = False

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.trickle:
                self._trickle(payload)
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            if self.trickle:
                with self.owner._lock:
                    self.owner.trickles_abandoned += 1

    def _trickle(self, payload: bytes) -> None:
        """One byte at a time, ``trickle_seconds`` apart, until done or the server stops."""
        srv = self.owner
        for i in range(len(payload)):
            self.wfile.write(payload[i:i + 1])
            self.wfile.flush()
            if srv._stop.wait(srv.trickle_seconds):
                self.close_connection = True
                return

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def do_POST(self) -> None:  # noqa: N802
        srv = self.owner
        self.trickle = False  # a keep-alive connection reuses this handler
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with srv._lock:
            srv.calls += 1
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request"}})
                return
            rec = RecordedRequest(body)
            rec.path = self.path
            rec.headers = {
                k.lower(): v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS
            }
            with srv._lock:
                srv.requests.append(rec)
            srv._sleep(srv.latency)
            behaviour = srv._next_behaviour()
            if behaviour == "429":
                self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                           {"retry-after": "0", "retry-after-ms": "1"})
                return
            if behaviour == "500":
                self._json(500, {"error": {"message": "internal error", "type": "server_error"}},
                           {"retry-after-ms": "1"})
                return
            if behaviour == "slow":
                srv._sleep(srv.slow_seconds)
            self.trickle = behaviour == "trickle"
            if behaviour == "badjson":
                self._send(200, b"{this is not json")
                return
            if self.path.rstrip("/").endswith("/chat/completions"):
                self._openai(body, behaviour)
            elif self.path.rstrip("/").endswith("/messages"):
                self._anthropic(body, behaviour)
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})
        finally:
            with srv._lock:
                srv.in_flight -= 1

    def _distribution(self, prompt: str, behaviour: str | None) -> dict[str, float]:
        if behaviour == "garbage":
            return {"The": 0.5, "I": 0.3, "Sure": 0.1, "**": 0.05, "Score": 0.05}
        if behaviour == "refusal":
            return {"REF": 0.9, "I": 0.08, "50": 0.02}
        if behaviour == "lowmass":
            return {"I": 0.85, "40": 0.1, "60": 0.05}
        out = self.owner.scorer(prompt)
        if isinstance(out, dict):
            return {str(k): float(v) for k, v in out.items()}
        if isinstance(out, str):
            return {out: 0.97, "I": 0.02, "The": 0.01}
        return {str(int(round(out))): 0.97, "I": 0.02, "The": 0.01}

    def _openai(self, body: dict[str, Any], behaviour: str | None) -> None:
        prompt = _prompt_text(body)
        dist = self._distribution(prompt, behaviour)
        ranked = sorted(dist.items(), key=lambda kv: -kv[1])
        n_top = int(body.get("top_logprobs") or 0)
        top = [
            {"token": t, "logprob": _logprob(p),
             "bytes": list(t.encode())}
            for t, p in ranked[: max(n_top, 1)]
        ]
        token = "REFUSAL" if behaviour == "refusal" else ranked[0][0]
        n_in = max(1, len(prompt.split()))
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": token},
            "finish_reason": "length",
            "logprobs": None,
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [{"token": ranked[0][0], "logprob": top[0]["logprob"],
                             "bytes": list(ranked[0][0].encode()), "top_logprobs": top}]
            }
        self._json(200, {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.owner.openai_model or _dated(body.get("model", "local"), "-2025-04-14"),
            "choices": [choice],
            "usage": {"prompt_tokens": n_in, "completion_tokens": 1, "total_tokens": n_in + 1},
        })

    def _anthropic(self, body: dict[str, Any], behaviour: str | None) -> None:
        prompt = _prompt_text(body)
        if behaviour == "refusal":
            text = "REFUSAL"
        elif behaviour in ("garbage", "lowmass"):
            text = "I cannot rate"
        else:
            dist = self._distribution(prompt, None)
            text = max(dist.items(), key=lambda kv: kv[1])[0]
        n_in = max(1, len(prompt.split()))
        self._json(200, {
            "id": "msg_local",
            "type": "message",
            "role": "assistant",
            "model": self.owner.anthropic_model or _dated(body.get("model", "local"), "-20251001"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": n_in, "output_tokens": 2},
        })
