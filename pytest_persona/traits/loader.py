"""Trait data: schema, validation and loading.

A trait file is the reference repository's JSON format (``instruction``, ``questions``,
``eval_prompt``) plus an optional ``eval_questions`` list that keeps extraction and
evaluation questions apart. Files without ``eval_questions`` split ``questions`` in half.
Errors point at ``file:line`` and the offending field.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_persona.errors import TraitDataError as TraitDataError
from pytest_persona.errors import UnknownTraitError as UnknownTraitError

__all__ = [
    "BUILTIN_TRAITS_DIR",
    "DEFAULT_NEG_SYSTEM_TEMPLATE",
    "DEFAULT_POS_SYSTEM_TEMPLATE",
    "DEFAULT_SYSTEM_TEMPLATE",
    "InstructionPair",
    "SplitQuestionsWarning",
    "TraitData",
    "TraitDataError",
    "UnknownTraitError",
    "indefinite_article",
    "list_traits",
    "load_trait",
    "load_trait_pair",
    "parse_trait",
]

BUILTIN_TRAITS_DIR: Path = Path(__file__).resolve().parents[1] / "data" / "traits"
# The reference procedure's pair: the trait name appears in the positive prompt only.
DEFAULT_POS_SYSTEM_TEMPLATE = "You are {article} {trait} assistant. {instruction}"
DEFAULT_NEG_SYSTEM_TEMPLATE = "You are a helpful assistant. {instruction}"
DEFAULT_SYSTEM_TEMPLATE = DEFAULT_POS_SYSTEM_TEMPLATE  # kept for callers of the old name

Polarity = Literal["pos", "neg"]
FieldPath = tuple[str | int, ...]
PathLike = str | Path

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Words whose spelling misleads a first-letter rule.
_AN_EXCEPTIONS = ("honest", "honor", "honour", "hour", "heir")
_A_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "once")


# --------------------------------------------------------------------------- errors


class SplitQuestionsWarning(UserWarning):
    """One file without ``eval_questions`` had its ``questions`` split for evaluation."""


_WARNED_SPLIT: set[str] = set()


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class InstructionPair:
    """A contrastive pair of system-prompt instructions."""

    pos: str
    neg: str


@dataclass(frozen=True)
class TraitData:
    """Validated data for one trait."""

    name: str
    path: Path
    instructions: tuple[InstructionPair, ...]
    extract_questions: tuple[str, ...]
    eval_questions: tuple[str, ...]
    eval_prompt: str
    sha256: str

    def system_prompt(
        self, polarity: Polarity, index: int, template: str | None = None
    ) -> str:
        """System prompt for instruction pair ``index`` with the given polarity.

        ``template`` defaults to the reference pair: ``DEFAULT_POS_SYSTEM_TEMPLATE`` for
        ``"pos"``, ``DEFAULT_NEG_SYSTEM_TEMPLATE`` for ``"neg"``. Placeholders: ``{article}``,
        ``{trait}``, ``{instruction}``.
        """
        if polarity not in ("pos", "neg"):
            raise ValueError(f"polarity must be 'pos' or 'neg', got {polarity!r}")
        if not -len(self.instructions) <= index < len(self.instructions):
            raise IndexError(
                f"trait {self.name!r} has {len(self.instructions)} instruction pairs, "
                f"index {index} is out of range"
            )
        if template is None:
            template = (DEFAULT_POS_SYSTEM_TEMPLATE if polarity == "pos"
                        else DEFAULT_NEG_SYSTEM_TEMPLATE)
        trait = self.display_name
        values = {
            "article": indefinite_article(trait),
            "trait": trait,
            "instruction": getattr(self.instructions[index], polarity),
        }
        return substitute(template, values)

    def format_eval_prompt(self, question: str, answer: str) -> str:
        """The judge prompt with ``{question}`` and ``{answer}`` filled in (nothing else)."""
        return substitute(self.eval_prompt, {"question": question, "answer": answer})

    @property
    def display_name(self) -> str:
        """The trait name as words, e.g. ``power_seeking`` -> ``power seeking``."""
        return self.name.replace("_", " ").replace("-", " ")


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{key}`` for keys in ``values`` in one pass; other braces stay verbatim.

    Substituted text is never re-scanned, so values may contain braces or placeholders.
    """

    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        return values[key] if key in values else match.group(0)

    return _PLACEHOLDER.sub(repl, template)


def indefinite_article(word: str) -> str:
    """``"a"`` or ``"an"`` for ``word`` by its first sound (common English exceptions)."""
    lower = word.strip().lower()
    if lower.startswith(_AN_EXCEPTIONS):
        return "an"
    if lower.startswith(_A_EXCEPTIONS):
        return "a"
    return "an" if lower[:1] in ("a", "e", "i", "o", "u") else "a"


# --------------------------------------------------------------------------- line locating


#: the longest question, instruction or judge prompt a trait file may hold, in characters
MAX_TEXT_CHARS = 20_000

#: how deep :func:`_locate` records lines: a trait file's fields are at most
#: ``instruction[i].pos`` (3 levels); anything deeper is read whole
LOCATE_DEPTH = 4


def _locate(text: str) -> dict[FieldPath, int]:
    """Map every key and list element of valid JSON ``text`` (down to :data:`LOCATE_DEPTH`) to
    its 1-based line. Linear in the text: a line number is a binary search over the newline
    offsets, found once, and the walk does not recurse below the depth a trait file uses."""
    lines: dict[FieldPath, int] = {}
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    newlines = [m.start() for m in re.finditer("\n", text)]

    def skip(pos: int) -> int:
        match = ws.match(text, pos)
        return match.end() if match else pos

    def line_of(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    def walk(pos: int, path: FieldPath) -> int:
        pos = skip(pos)
        char = text[pos : pos + 1]
        if char == "{" and len(path) < LOCATE_DEPTH:
            return walk_object(pos + 1, path)
        if char == "[" and len(path) < LOCATE_DEPTH:
            return walk_array(pos + 1, path)
        _, end = decoder.raw_decode(text, pos)
        return end

    def walk_object(pos: int, path: FieldPath) -> int:
        pos = skip(pos)
        while text[pos] != "}":
            key, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            lines[path + (key,)] = line_of(pos)
            pos = skip(walk(skip(end) + 1, (*path, key)))
            pos = skip(pos + 1) if text[pos] == "," else pos
        return pos + 1

    def walk_array(pos: int, path: FieldPath) -> int:
        pos = skip(pos)
        index = 0
        while text[pos] != "]":
            lines[path + (index,)] = line_of(pos)
            pos = skip(walk(pos, (*path, index)))
            pos = skip(pos + 1) if text[pos] == "," else pos
            index += 1
        return pos + 1

    walk(0, ())
    return lines


def _deepest_line(text: str, limit: int = 200) -> int:
    """The 1-based line where bracket nesting first passes ``limit`` (strings skipped)."""
    depth, line, in_str, escaped = 0, 1, False, False
    for char in text:
        if char == "\n":
            line += 1
        elif in_str:
            escaped, in_str = (not escaped and char == "\\"), in_str and (escaped or char != '"')
        elif char == '"':
            in_str = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth -= 1
    return 1


def _field_name(path: FieldPath) -> str:
    """``("instruction", 2, "neg")`` -> ``"instruction[2].neg"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --------------------------------------------------------------------------- validation


class _Doc:
    """A parsed trait file with helpers that raise located errors."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:
            self.data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraitDataError(path, exc.lineno, None, f"invalid JSON: {exc.msg}") from exc
        except RecursionError:
            raise TraitDataError(path, _deepest_line(text), None,
                                 "invalid JSON: nested too deep (a trait file needs 3 levels: "
                                 "instruction[i].pos)") from None
        if not isinstance(self.data, dict):
            raise TraitDataError(path, 1, None, "top level must be a JSON object")
        self.lines = _locate(text)

    @classmethod
    def read(cls, path: Path) -> _Doc:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TraitDataError(path, 1, None, f"not UTF-8 text: {exc}") from exc
        return cls(path, text)

    def error(self, field: FieldPath, message: str) -> TraitDataError:
        line = self.lines.get(field, 1) if field else 1
        return TraitDataError(self.path, line, _field_name(field) or None, message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise TraitDataError(self.path, 1, key, "missing required key")
        return self.data[key]

    def string(self, value: Any, field: FieldPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty string")
        if len(value) > MAX_TEXT_CHARS:
            raise self.error(field, f"is {len(value):,} characters long; a trait file's texts "
                             f"are capped at {MAX_TEXT_CHARS:,} characters (a few thousand "
                             "tokens), so that every prompt fits the model and the judge")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.error((key,), f"must be a list, got {_json_type(value)}")
        if not value:
            raise self.error((key,), "must not be empty")
        return value

    def instructions(self) -> tuple[InstructionPair, ...]:
        pairs = []
        for i, item in enumerate(self.items("instruction")):
            if not isinstance(item, dict):
                raise self.error(("instruction", i), "must be an object with 'pos' and 'neg'")
            for key in ("pos", "neg"):
                if key not in item:
                    raise self.error(("instruction", i), f"missing required key {key!r}")
            pos = self.string(item["pos"], ("instruction", i, "pos"))
            neg = self.string(item["neg"], ("instruction", i, "neg"))
            pairs.append(InstructionPair(pos=pos, neg=neg))
        return tuple(pairs)

    def questions(self, key: str) -> tuple[str, ...]:
        values = self.items(key)
        seen: dict[str, int] = {}
        for i, value in enumerate(values):
            question = self.string(value, (key, i))
            norm = _normalise(question)
            if norm in seen:
                raise self.error((key, i), f"duplicate of {key}[{seen[norm]}]: {question!r}")
            seen[norm] = i
        return tuple(values)

    def eval_prompt(self) -> str:
        prompt = self.string(self.get("eval_prompt"), ("eval_prompt",))
        for placeholder in ("{question}", "{answer}"):
            if placeholder not in prompt:
                raise self.error(("eval_prompt",), f"must contain the placeholder {placeholder}")
        return prompt


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _normalise(question: str) -> str:
    return " ".join(question.split()).casefold()


def _check_disjoint(
    doc: _Doc, key: str, extract: Sequence[str], evaluate: Sequence[str], offset: int = 0
) -> None:
    """Raise if an evaluation question (``doc[key][offset + i]``) is also an extraction one."""
    extract_norm = {_normalise(q) for q in extract}
    for i, question in enumerate(evaluate):
        if _normalise(question) in extract_norm:
            raise doc.error(
                (key, offset + i),
                f"evaluation question also used for extraction: {question!r}",
            )


def _split_questions(doc: _Doc) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Extraction and evaluation questions of one file (split ``questions`` if needed)."""
    questions = doc.questions("questions")
    if doc.has("eval_questions"):
        evaluate = doc.questions("eval_questions")
        _check_disjoint(doc, "eval_questions", questions, evaluate)
        return questions, evaluate
    if len(questions) < 2:
        raise doc.error(
            ("questions",), "needs at least 2 questions to split (or give 'eval_questions')"
        )
    half = (len(questions) + 1) // 2
    _warn_split(doc.path, half, len(questions) - half)
    return questions[:half], questions[half:]


def _warn_split(path: Path, n_extract: int, n_eval: int) -> None:
    """Warn once per file that its questions were split between extraction and evaluation."""
    key = str(path.resolve()) if path.name != "<string>" else str(path)
    if key in _WARNED_SPLIT:
        return
    _WARNED_SPLIT.add(key)
    warnings.warn(
        f"{path}: no 'eval_questions', so its {n_extract + n_eval} questions are split "
        f"{n_extract}/{n_eval} (extraction/evaluation). The reference repository keeps a trait "
        "in two files of 20 questions each (trait_data_extract/NAME.json and "
        "trait_data_eval/NAME.json): load them with load_trait_pair(extract, eval), or in a "
        "suite write 'trait_file: {extract: ..., eval: ...}'",
        SplitQuestionsWarning, stacklevel=2)


def _content_hash(
    name: str,
    instructions: Sequence[InstructionPair],
    extract: Sequence[str],
    evaluate: Sequence[str],
    eval_prompt: str,
) -> str:
    """sha256 of a canonical JSON of everything that shapes prompts and judging."""
    content = {
        "name": name,
        "instruction": [{"pos": p.pos, "neg": p.neg} for p in instructions],
        "extract_questions": list(extract),
        "eval_questions": list(evaluate),
        "eval_prompt": eval_prompt,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _build(
    name: str,
    path: Path,
    instructions: tuple[InstructionPair, ...],
    extract: tuple[str, ...],
    evaluate: tuple[str, ...],
    eval_prompt: str,
) -> TraitData:
    digest = _content_hash(name, instructions, extract, evaluate, eval_prompt)
    return TraitData(name, path, instructions, extract, evaluate, eval_prompt, digest)


# --------------------------------------------------------------------------- loading


def parse_trait(text: str, path: PathLike = "<string>", name: str | None = None) -> TraitData:
    """Validate trait JSON ``text``; ``path`` is used in errors, ``name`` defaults to its stem."""
    return _from_doc(_Doc(Path(path), text), name)


def load_trait_file(path: PathLike, name: str | None = None) -> TraitData:
    """Load and validate one trait JSON file."""
    return _from_doc(_Doc.read(Path(path)), name)


def _from_doc(doc: _Doc, name: str | None) -> TraitData:
    instructions = doc.instructions()
    extract, evaluate = _split_questions(doc)
    eval_prompt = doc.eval_prompt()
    return _build(name or doc.path.stem, doc.path, instructions, extract, evaluate, eval_prompt)


def load_trait_pair(
    extract_path: PathLike, eval_path: PathLike, name: str | None = None
) -> TraitData:
    """Combine the reference repository's separate extract and eval files.

    Instructions, extraction questions and the judge prompt come from ``extract_path``;
    evaluation questions are the ``questions`` of ``eval_path``.
    """
    extract_doc = _Doc.read(Path(extract_path))
    eval_doc = _Doc.read(Path(eval_path))
    instructions = extract_doc.instructions()
    extract = extract_doc.questions("questions")
    eval_prompt = extract_doc.eval_prompt()
    evaluate = eval_doc.questions("questions")
    _check_disjoint(eval_doc, "questions", extract, evaluate)
    trait_name = name or Path(extract_path).stem
    return _build(trait_name, Path(extract_path), instructions, extract, evaluate, eval_prompt)


def _directories(search_paths: Sequence[PathLike]) -> list[Path]:
    return [*(Path(p) for p in search_paths), BUILTIN_TRAITS_DIR]


def _looks_like_path(name_or_path: PathLike) -> bool:
    if isinstance(name_or_path, Path):
        return True
    return name_or_path.endswith(".json") or "/" in name_or_path or "\\" in name_or_path


def list_traits(search_paths: Sequence[PathLike] = ()) -> list[str]:
    """Sorted names of all traits in ``search_paths`` and the built-in directory."""
    names = {p.stem for d in _directories(search_paths) if d.is_dir() for p in d.glob("*.json")}
    return sorted(names)


def load_trait(name_or_path: PathLike, search_paths: Sequence[PathLike] = ()) -> TraitData:
    """Load a trait by ``.json`` path, or by name from ``search_paths`` then the built-ins."""
    if _looks_like_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"trait file not found: {path}")
        return load_trait_file(path)
    for directory in _directories(search_paths):
        candidate = directory / f"{name_or_path}.json"
        if candidate.is_file():
            return load_trait_file(candidate)
    places = ", ".join(str(d) for d in _directories(search_paths))
    available = ", ".join(list_traits(search_paths)) or "(none)"
    raise UnknownTraitError(
        f"unknown trait {name_or_path!r}; available: {available}; searched: {places}"
    )
