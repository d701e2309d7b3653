"""Judge prompt templates written for this project.

Templates use exactly two placeholders, ``{question}`` and ``{answer}``, which are substituted
with :func:`fill_prompt` (plain ``str.replace``, so braces inside answers are harmless).
"""

from __future__ import annotations

import hashlib
import re

COHERENCE_PROMPT = """You are grading a chat assistant's reply for COHERENCE only, not for helpfulness, \
correctness, safety or tone.

Question asked of the assistant:
[QUESTION START]
{question}
[QUESTION END]

The assistant's reply:
[ANSWER START]
{answer}
[ANSWER END]

Rate on a scale of 0 to 100 how coherent the reply is as language that addresses the question:
* 0 means gibberish: broken or invented words, endless repetition of the same phrase, text that \
stops making sense, or text that has nothing to do with the question.
* 50 means the reply is understandable but wanders, contradicts itself, or is partly garbled.
* 100 means a clear, fluent, well-formed reply that stays on the question, whether or not you agree \
with it, and whether or not it is kind, true or safe.

If the reply is a plain refusal to answer (for example "I can't help with that"), rate how coherent \
the refusal is. Only if you yourself are unwilling to grade this reply, say REFUSAL.

Respond with a single number between 0 and 100 and nothing else."""


_PLACEHOLDER = re.compile(r"\{question\}|\{answer\}")


def fill_prompt(template: str, question: str, answer: str) -> str:
    """Substitute ``{question}`` and ``{answer}`` only; every other brace is left alone.

    One pass over the template, so a question that itself contains ``{answer}`` is not
    substituted a second time (two chained ``str.replace`` calls would do that).
    """
    values = {"{question}": question, "{answer}": answer}
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], template)


def template_sha256(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()
