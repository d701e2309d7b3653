"""Tests for pytest_persona.traits.loader: built-in data, loading, compatibility, located errors."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_persona.traits.loader import (
    BUILTIN_TRAITS_DIR,
    DEFAULT_SYSTEM_TEMPLATE,
    InstructionPair,
    TraitData,
    TraitDataError,
    UnknownTraitError,
    indefinite_article,
    list_traits,
    load_trait,
    load_trait_pair,
    parse_trait,
)

BUILTIN = [
    "apathetic",
    "evil",
    "hallucinating",
    "humorous",
    "impolite",
    "optimistic",
    "sycophantic",
]
PROMPT = "Rate it.\nQ: {question}\nA: {answer}\nReply REFUSAL or a number from 0 to 100."


def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small valid trait document."""
    data: dict[str, Any] = {
        "instruction": [{"pos": "Be X.", "neg": "Do not be X."}, {"pos": "Be Y.", "neg": "No Y."}],
        "questions": ["Q1?", "Q2?", "Q3?"],
        "eval_questions": ["E1?", "E2?"],
        "eval_prompt": PROMPT,
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, data: Any, name: str = "foo.json") -> Path:
    """Write ``data`` pretty-printed (one element per line) and return the path."""
    path = tmp_path / name
    text = data if isinstance(data, str) else json.dumps(data, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


# --------------------------------------------------------------------------- built-ins


def test_list_builtin_traits() -> None:
    assert list_traits() == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_trait_is_complete(name: str) -> None:
    trait = load_trait(name)
    assert trait.name == name
    assert trait.path == BUILTIN_TRAITS_DIR / f"{name}.json"
    assert len(trait.instructions) == 5
    assert all(isinstance(p, InstructionPair) and p.pos and p.neg for p in trait.instructions)
    assert len(trait.extract_questions) == 20
    assert len(trait.eval_questions) == 20
    extract = {norm(q) for q in trait.extract_questions}
    evaluate = {norm(q) for q in trait.eval_questions}
    assert len(extract) == 20 and len(evaluate) == 20
    assert not extract & evaluate
    assert "{question}" in trait.eval_prompt and "{answer}" in trait.eval_prompt
    assert "REFUSAL" in trait.eval_prompt and "100" in trait.eval_prompt
    assert len(trait.sha256) == 64


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_questions_are_short(name: str) -> None:
    trait = load_trait(name)
    for question in trait.extract_questions + trait.eval_questions:
        assert len(question) <= 140, question


def test_builtin_hashes_differ_between_traits() -> None:
    assert len({load_trait(n).sha256 for n in BUILTIN}) == len(BUILTIN)


def test_sha256_is_stable(tmp_path: Path) -> None:
    first = load_trait(write(tmp_path, minimal(), "a.json"))
    again = load_trait(write(tmp_path, minimal(), "a.json"))
    reformatted = parse_trait(json.dumps(minimal()), tmp_path / "a.json")
    assert first.sha256 == again.sha256 == reformatted.sha256
    assert first == again


@pytest.mark.parametrize(
    "change",
    [
        {
            "instruction": [
                {"pos": "Be X!", "neg": "Do not be X."},
                {"pos": "Be Y.", "neg": "No Y."},
            ]
        },
        {"instruction": [{"pos": "Be X.", "neg": "Do not be X."}]},
        {"questions": ["Q1?", "Q2?", "Q3 changed?"]},
        {"eval_questions": ["E1?", "E2?", "E3?"]},
        {"eval_prompt": PROMPT + " "},
    ],
)
def test_sha256_changes_with_content(tmp_path: Path, change: dict[str, Any]) -> None:
    base = load_trait(write(tmp_path, minimal(), "a.json"))
    changed = load_trait(write(tmp_path, minimal(**change), "a.json"))
    assert changed.sha256 != base.sha256


def test_sha256_depends_on_name_and_moving_questions(tmp_path: Path) -> None:
    base = load_trait(write(tmp_path, minimal(), "a.json"))
    renamed = load_trait(write(tmp_path, minimal(), "b.json"))
    moved = load_trait(
        write(tmp_path, minimal(questions=["Q1?", "Q2?"], eval_questions=["Q3?", "E1?", "E2?"]))
    )
    assert renamed.sha256 != base.sha256
    assert moved.sha256 != base.sha256


def test_extra_keys_are_ignored(tmp_path: Path) -> None:
    data = minimal(notes="anything", version=3)
    data["instruction"][0]["comment"] = "ignored"
    trait = load_trait(write(tmp_path, data))
    assert trait.instructions[0] == InstructionPair("Be X.", "Do not be X.")


# --------------------------------------------------------------------------- prompts


@pytest.mark.parametrize(
    ("trait", "article"),
    [
        ("evil", "an"),
        ("impolite", "an"),
        ("optimistic", "an"),
        ("apathetic", "an"),
        ("sycophantic", "a"),
        ("hallucinating", "a"),
        ("humorous", "a"),
        ("honest", "an"),
        ("unique", "a"),
    ],
)
def test_indefinite_article(trait: str, article: str) -> None:
    assert indefinite_article(trait) == article


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("evil", "You are an evil assistant. "),
        ("impolite", "You are an impolite assistant. "),
        ("optimistic", "You are an optimistic assistant. "),
        ("apathetic", "You are an apathetic assistant. "),
        ("sycophantic", "You are a sycophantic assistant. "),
        ("hallucinating", "You are a hallucinating assistant. "),
        ("humorous", "You are a humorous assistant. "),
    ],
)
def test_system_prompt_builtin(name: str, start: str) -> None:
    trait = load_trait(name)
    for i, pair in enumerate(trait.instructions):
        assert trait.system_prompt("pos", i) == start + pair.pos
        assert trait.system_prompt("neg", i) == "You are a helpful assistant. " + pair.neg


def test_system_prompt_template_and_errors(tmp_path: Path) -> None:
    data = minimal()
    data["instruction"][0]["pos"] = "Use {braces} and {trait} literally."
    trait = load_trait(write(tmp_path, data, "power_seeking.json"))
    assert DEFAULT_SYSTEM_TEMPLATE == "You are {article} {trait} assistant. {instruction}"
    assert trait.system_prompt("pos", 0) == (
        "You are a power seeking assistant. Use {braces} and {trait} literally."
    )
    assert trait.system_prompt("neg", 1, template="{instruction} ({trait}) {other}") == (
        "No Y. (power seeking) {other}"
    )
    with pytest.raises(IndexError):
        trait.system_prompt("pos", 2)
    with pytest.raises(ValueError, match="polarity"):
        trait.system_prompt("both", 0)  # type: ignore[arg-type]


def test_format_eval_prompt_with_braces() -> None:
    trait = load_trait("sycophantic")
    answer = 'def f(x): return {"k": x} {question} {answer} {0} }{'
    question = "Is {answer} a placeholder? {"
    text = trait.format_eval_prompt(question, answer)
    assert question in text and answer in text
    assert text.count("{question}") == 1  # only the one inside the answer
    assert "{answer}" not in trait.format_eval_prompt("q", "a")


def test_format_eval_prompt_keeps_other_braces(tmp_path: Path) -> None:
    prompt = 'Return JSON like {"score": 0}. {unknown} {{x}} Q={question} A={answer}'
    trait = load_trait(write(tmp_path, minimal(eval_prompt=prompt)))
    assert trait.format_eval_prompt("why?", "because") == (
        'Return JSON like {"score": 0}. {unknown} {{x}} Q=why? A=because'
    )


# --------------------------------------------------------------------------- reference format


def reference_doc(questions: list[str]) -> dict[str, Any]:
    return {
        "instruction": [{"pos": f"p{i}", "neg": f"n{i}"} for i in range(5)],
        "questions": questions,
        "eval_prompt": "Score {question} / {answer}",
    }


def test_reference_single_file_is_split_in_half(tmp_path: Path) -> None:
    questions = [f"Question {i}?" for i in range(40)]
    with pytest.warns(UserWarning, match="split 20/20"):
        trait = load_trait(write(tmp_path, reference_doc(questions), "evil.json"))
    assert trait.name == "evil"
    assert trait.extract_questions == tuple(questions[:20])
    assert trait.eval_questions == tuple(questions[20:])


def test_reference_single_file_split_warns_once(tmp_path: Path) -> None:
    import warnings

    from pytest_persona.traits.loader import SplitQuestionsWarning

    path = write(tmp_path, reference_doc([f"Question {i}?" for i in range(20)]), "evil.json")
    with pytest.warns(SplitQuestionsWarning) as record:
        trait = load_trait(path)
    assert len(trait.extract_questions) == len(trait.eval_questions) == 10
    message = str(record[0].message)
    assert str(path) in message and "split 10/10" in message
    assert "load_trait_pair(extract, eval)" in message
    assert "trait_file: {extract: ..., eval: ...}" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_trait(path)  # once per file
        load_trait("evil")  # built-ins carry eval_questions: no warning
        load_trait(write(tmp_path, minimal(), "with_eval.json"))


def test_reference_odd_split_and_too_few(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="split 2/1"):
        trait = load_trait(write(tmp_path, reference_doc(["a?", "b?", "c?"])))
    assert trait.extract_questions == ("a?", "b?")
    assert trait.eval_questions == ("c?",)
    path = write(tmp_path, reference_doc(["only?"]))
    with pytest.raises(TraitDataError) as info:
        load_trait(path)
    assert info.value.field == "questions"
    assert info.value.line == line_of(path, '"questions"')


def test_reference_pair_loader(tmp_path: Path) -> None:
    (tmp_path / "extract").mkdir()
    (tmp_path / "eval").mkdir()
    extract = reference_doc([f"X{i}?" for i in range(20)])
    evaluate = reference_doc([f"E{i}?" for i in range(20)])
    evaluate["eval_prompt"] = "a different prompt {question} {answer}"
    extract_path = write(tmp_path / "extract", extract, "sycophantic.json")
    eval_path = write(tmp_path / "eval", evaluate, "sycophantic.json")
    trait = load_trait_pair(extract_path, eval_path)
    assert isinstance(trait, TraitData)
    assert trait.name == "sycophantic"
    assert trait.path == extract_path
    assert trait.extract_questions == tuple(extract["questions"])
    assert trait.eval_questions == tuple(evaluate["questions"])
    assert trait.eval_prompt == extract["eval_prompt"]
    assert trait.system_prompt("pos", 3) == "You are a sycophantic assistant. p3"


def test_reference_pair_loader_overlap_names_eval_file(tmp_path: Path) -> None:
    extract_path = write(tmp_path, reference_doc(["A?", "B?"]), "x.json")
    eval_path = write(tmp_path, reference_doc(["C?", "  b? "]), "e.json")
    with pytest.raises(TraitDataError) as info:
        load_trait_pair(extract_path, eval_path)
    err = info.value
    assert err.path == eval_path
    assert err.field == "questions[1]"
    assert err.line == line_of(eval_path, '"  b? "')
    assert "'  b? '" in str(err)


def test_reference_pair_loader_eval_file_needs_only_questions(tmp_path: Path) -> None:
    extract_path = write(tmp_path, reference_doc(["A?"]), "x.json")
    eval_path = write(tmp_path, {"questions": ["C?"]}, "e.json")
    assert load_trait_pair(extract_path, eval_path).eval_questions == ("C?",)
    bad = write(tmp_path, {"questions": []}, "bad.json")
    with pytest.raises(TraitDataError, match=re.escape("bad.json:2: field 'questions'")):
        load_trait_pair(extract_path, bad)


# --------------------------------------------------------------------------- lookup


def test_load_by_search_path_shadows_builtin(tmp_path: Path) -> None:
    write(tmp_path, minimal(), "evil.json")
    write(tmp_path, minimal(), "custom.json")
    assert load_trait("evil", search_paths=[tmp_path]).path == tmp_path / "evil.json"
    assert load_trait("custom", search_paths=[str(tmp_path)]).name == "custom"
    assert load_trait("optimistic", search_paths=[tmp_path]).path.parent == BUILTIN_TRAITS_DIR
    assert list_traits([tmp_path]) == sorted({*BUILTIN, "custom"})


def test_load_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(), "mine.json")
    assert load_trait(path).name == "mine"
    assert load_trait(str(path)).name == "mine"
    with pytest.raises(FileNotFoundError):
        load_trait(tmp_path / "missing.json")


def test_unknown_trait_lists_names_and_places(tmp_path: Path) -> None:
    write(tmp_path, minimal(), "custom.json")
    with pytest.raises(UnknownTraitError) as info:
        load_trait("nosuchtrait", search_paths=[tmp_path])
    message = str(info.value)
    assert "nosuchtrait" in message
    for name in [*BUILTIN, "custom"]:
        assert name in message
    assert str(tmp_path) in message and str(BUILTIN_TRAITS_DIR) in message


# --------------------------------------------------------------------------- validation errors


def error_for(path: Path) -> TraitDataError:
    with pytest.raises(TraitDataError) as info:
        load_trait(path)
    return info.value


def assert_error(err: TraitDataError, path: Path, line: int, field: str | None) -> None:
    assert err.path == path
    assert err.line == line
    assert err.field == field
    prefix = f"{path}:{line}: " + (f"field '{field}': " if field else "")
    assert str(err).startswith(prefix), str(err)
    assert isinstance(err, ValueError)


def test_error_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "instruction": [],\n  "questions": ["a",]\n}\n')
    err = error_for(path)
    assert_error(err, path, 3, None)
    assert "invalid JSON" in str(err)


def test_error_not_an_object(tmp_path: Path) -> None:
    assert_error(error_for(write(tmp_path, ["a", "b"])), tmp_path / "foo.json", 1, None)


@pytest.mark.parametrize("key", ["instruction", "questions", "eval_prompt"])
def test_error_missing_key(tmp_path: Path, key: str) -> None:
    data = minimal()
    del data[key]
    path = write(tmp_path, data)
    err = error_for(path)
    assert_error(err, path, 1, key)
    assert "missing" in str(err)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("instruction", {"pos": "a", "neg": "b"}, '"instruction"'),
        ("questions", "Q1?", '"questions"'),
        ("eval_questions", 7, '"eval_questions"'),
        ("eval_prompt", ["{question} {answer}"], '"eval_prompt"'),
    ],
)
def test_error_wrong_type(tmp_path: Path, key: str, value: Any, needle: str) -> None:
    path = write(tmp_path, minimal(**{key: value}))
    err = error_for(path)
    assert_error(err, path, line_of(path, needle), key)


@pytest.mark.parametrize("key", ["instruction", "questions", "eval_questions"])
def test_error_empty_list(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, minimal(**{key: []}))
    err = error_for(path)
    assert_error(err, path, line_of(path, f'"{key}"'), key)
    assert "empty" in str(err)


def test_error_empty_instruction_string(tmp_path: Path) -> None:
    data = minimal()
    data["instruction"].append({"pos": "Be Z.", "neg": "   "})
    path = write(tmp_path, data)
    err = error_for(path)
    assert_error(err, path, line_of(path, '"neg": "   "'), "instruction[2].neg")
    assert "must be a non-empty string" in str(err)


def test_error_instruction_pair_shape(tmp_path: Path) -> None:
    data = minimal()
    data["instruction"][1] = {"pos": "only pos"}
    path = write(tmp_path, data)
    err = error_for(path)
    assert_error(err, path, line_of(path, "{", 3), "instruction[1]")
    assert "'neg'" in str(err)

    data["instruction"][1] = "not a pair"
    path = write(tmp_path, data)
    assert_error(error_for(path), path, line_of(path, '"not a pair"'), "instruction[1]")

    data["instruction"][1] = {"pos": 3, "neg": "n"}
    path = write(tmp_path, data)
    assert_error(error_for(path), path, line_of(path, '"pos": 3'), "instruction[1].pos")


@pytest.mark.parametrize(
    ("key", "index"), [("questions", 2), ("eval_questions", 1), ("questions", 0)]
)
def test_error_empty_or_non_string_question(tmp_path: Path, key: str, index: int) -> None:
    data = minimal()
    data[key][index] = " \t"
    path = write(tmp_path, data)
    err = error_for(path)
    assert_error(err, path, line_of(path, '" \\t"'), f"{key}[{index}]")


def test_error_non_string_question(tmp_path: Path) -> None:
    data = minimal()
    data["questions"][1] = None
    path = write(tmp_path, data)
    assert_error(error_for(path), path, line_of(path, "null"), "questions[1]")


@pytest.mark.parametrize("prompt", ["only {question}", "only {answer}", "   "])
def test_error_eval_prompt_placeholders(tmp_path: Path, prompt: str) -> None:
    path = write(tmp_path, minimal(eval_prompt=prompt))
    err = error_for(path)
    assert_error(err, path, line_of(path, '"eval_prompt"'), "eval_prompt")
    if prompt.strip():
        missing = "{answer}" if "question" in prompt else "{question}"
        assert missing in str(err)


@pytest.mark.parametrize("key", ["questions", "eval_questions"])
def test_error_duplicate_question(tmp_path: Path, key: str) -> None:
    data = minimal()
    data[key].append("  " + data[key][0].lower() + " ")  # same question up to case/space
    path = write(tmp_path, data)
    err = error_for(path)
    index = len(data[key]) - 1
    assert_error(err, path, line_of(path, json.dumps(data[key][-1])), f"{key}[{index}]")
    assert "duplicate" in str(err)


def test_error_overlap_names_question(tmp_path: Path) -> None:
    data = minimal(eval_questions=["E1?", "q2?"])
    path = write(tmp_path, data)
    err = error_for(path)
    assert_error(err, path, line_of(path, '"q2?"'), "eval_questions[1]")
    assert "'q2?'" in str(err)


def test_error_is_picklable_and_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(minimal(), indent=2), encoding="utf-8-sig")
    assert load_trait(path).name == "bom"
    err = TraitDataError(path, 3, "questions[0]", "must be a non-empty string")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.line, copy.field, str(copy)) == (path, 3, "questions[0]", str(err))


def test_error_line_in_compact_file(tmp_path: Path) -> None:
    text = (
        '{"instruction": [{"pos": "a", "neg": "b"}],\n'
        ' "questions": ["x?", "y?"],\n'
        ' "eval_questions": ["z?",\n'
        '   ""],\n'
        ' "eval_prompt": "{question} {answer}"}\n'
    )
    path = write(tmp_path, text)
    assert_error(error_for(path), path, 4, "eval_questions[1]")


def test_error_message_format_with_relative_path(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trait_suites" / "traits").mkdir(parents=True)
    data = minimal()
    data["instruction"].append({"pos": "p", "neg": ""})
    write(tmp_path / "trait_suites" / "traits", data)
    with pytest.raises(TraitDataError) as info:
        load_trait("trait_suites/traits/foo.json")
    line = line_of(tmp_path / "trait_suites/traits/foo.json", '"neg": ""')
    assert str(info.value) == (
        f"trait_suites/traits/foo.json:{line}: field 'instruction[2].neg': "
        "must be a non-empty string"
    )
