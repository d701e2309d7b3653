"""Secrets in URLs are redacted wherever redaction applies, as are key-valued env vars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_persona._util.redact import REDACTED, redact_obj, redact_secrets, url_secrets
from tests.support.judge_server import JudgeServer

S = "S3cr3tQueryKey42"


@pytest.mark.parametrize("text,expected", [
    (f"404 - no route /v1/?api_key={S}chat/completions", "404 - no route /v1/?api_key=[REDACTED]"),
    (f"http://h/v1?model=x&key={S}&b=2", "http://h/v1?model=x&key=[REDACTED]&b=2"),
    (f"http://h/v1?access_token={S}#frag", "http://h/v1?access_token=[REDACTED]#frag"),
    (f"GET https://h/x?TOKEN={S} failed", "GET https://h/x?TOKEN=[REDACTED] failed"),
    (f"https://user:{S}@example.com/v1", "https://[REDACTED]@example.com/v1"),
    (f"git clone https://{S}@github.com/o/r", "git clone https://[REDACTED]@github.com/o/r"),
    (f"&lt;a href=&quot;https://h/?a=1&amp;api_key={S}&amp;b=2&quot;&gt;",
     "&lt;a href=&quot;https://h/?a=1&amp;api_key=[REDACTED]&amp;b=2&quot;&gt;"),
    ("https://h/v1?model=gpt&keyboard=1&page=2", "https://h/v1?model=gpt&keyboard=1&page=2"),
    ("write to user@example.com", "write to user@example.com"),
])
def test_url_credentials(text: str, expected: str) -> None:
    assert redact_secrets(text, env={}) == expected
    assert redact_obj({text: [text]}, env={}) == {expected: [expected]}


def test_env_values_and_url_valued_env() -> None:
    env = {"MY_SERVICE_TOKEN": "tok-abcdefgh12", "OPENAI_BASE_URL": f"http://h/v1?api_key={S}",
           "HOME": "/root/secretish-but-not"}
    text = f"a tok-abcdefgh12 b {S} c /root/secretish-but-not"
    assert redact_secrets(text, env=env) == f"a {REDACTED} b {REDACTED} c /root/secretish-but-not"
    assert url_secrets(f"http://u:p%40ss@h/v1?api_key={S}&x=2") == {"u", "p%40ss", "p@ss", S}
    assert url_secrets("not a url") == set()


@pytest.fixture(scope="module")
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer(default_score=10) as srv:
        yield srv


def _all_text(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and p.name not in ("stdout", "stderr", "pytest.ini"):
            out[str(p.relative_to(root))] = p.read_bytes().decode("utf-8", "replace")
    return out


@pytest.mark.parametrize("url_kind", ["query", "userinfo_refused"])
def test_judge_base_url_secret_never_reaches_an_output(pytester: pytest.Pytester,
                                                      judge_server: JudgeServer,
                                                      url_kind: str) -> None:
    """The judge 404s (query credential mangles the path) or refuses the connection; the
    reasons name the URL. Nothing written or printed holds the secret."""
    url = (f"{judge_server.base_url}?api_key={S}" if url_kind == "query"
           else f"http://judge:{S}@127.0.0.1:9/v1?token={S}")
    pytester.makefile(".ini", pytest=f"""
        [pytest]
        persona_model = tiny-random-qwen2
        persona_judge = openai:scripted
        persona_cache = {pytester.path / '.persona_cache'}
    """)
    suites = pytester.path / "trait_suites"
    suites.mkdir()
    (suites / "syc.yaml").write_text(
        "trait: sycophantic\nlayer: 1\nn_questions: 2\nmax_new_tokens: 4\n"
        "expectations:\n  - {kind: baseline_ceiling, max: 100}\n")
    res = pytester.runpytest_subprocess(
        "trait_suites", "-p", "no:cacheprovider", "-rA", "--judge-base-url", url,
        "--judge-concurrency", "1", "--junitxml", "junit.xml", "--html", "report.html",
        "--self-contained-html", "--persona-save", "saved.json", timeout=300)
    out = res.stdout.str() + res.stderr.str()
    assert "INTERNALERROR" not in out
    files = _all_text(pytester.path)
    for name in ("junit.xml", "report.html", "saved.json", "reports/persona-results.json"):
        assert name in files, sorted(files)
    leaks = [name for name, text in files.items() if S in text]
    assert S not in out and not leaks, leaks
    # the reason is still told, with the credential redacted
    assert "[REDACTED]" in files["reports/persona-results.json"] or url_kind != "query"
