"""The plugin as a pytest user meets it: collection outside trait_suites/, optional pytest-html
and xdist, validated options, option-name clashes, located unknown traits, setup failures that
stop the session. Most runs here never load a model."""

from __future__ import annotations

import json

import pytest

SUITE = """\
trait: {trait}
layer: 1
expectations:
  - {{kind: baseline_ceiling, max: 100}}
  - {{kind: projection_order, margin: 0}}
  - {{kind: cross_trait_cosine, traits: [{other}]}}
"""


def _ini(pytester: pytest.Pytester, extra: str = "") -> None:
    (pytester.path / "pytest.ini").write_text(
        "[pytest]\npersona_model = tiny-random-qwen2\npersona_judge = offline\n"
        f"persona_cache = {pytester.path / '.persona_cache'}\n{extra}\n")


def _suite(pytester: pytest.Pytester, where: str, trait: str = "sycophantic",
           other: str = "evil") -> None:
    path = pytester.path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SUITE.format(trait=trait, other=other))


def _ids(res: pytest.RunResult) -> list[str]:
    return [ln for ln in res.outlines if ".yaml::" in ln]


# -- 1. suites outside trait_suites/ ----------------------------------------------------------
def test_directory_on_the_command_line_collects_its_suites(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "my_suites/syc.yaml")
    (pytester.path / "my_suites" / "config.yaml").write_text("name: not a suite\nsteps: [1]\n")
    res = pytester.runpytest("my_suites", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert _ids(res) == ["my_suites/syc.yaml::baseline_ceiling",
                         "my_suites/syc.yaml::projection_order",
                         "my_suites/syc.yaml::cross_trait_cosine[evil]"]
    one = pytester.runpytest("my_suites/syc.yaml", "--collect-only", "-q")
    assert len(_ids(one)) == 3


def test_ini_lists_suite_directories(pytester: pytest.Pytester) -> None:
    _ini(pytester, "testpaths = checks\npersona_suite_dirs = suites/llm")
    _suite(pytester, "checks/a.yaml")
    _suite(pytester, "suites/llm/b.yaml")
    res = pytester.runpytest("--collect-only", "-q")
    assert {ln.split("::")[0] for ln in _ids(res)} == {"checks/a.yaml"}  # testpaths
    res = pytester.runpytest("suites", "--collect-only", "-q")
    assert {ln.split("::")[0] for ln in _ids(res)} == {"suites/llm/b.yaml"}


def test_a_suite_that_is_not_collected_says_why_with_v(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "elsewhere/syc.yaml")
    (pytester.path / "test_plain.py").write_text("def test_ok():\n    pass\n")
    res = pytester.runpytest("--collect-only", "-v")  # no args, no testpaths
    assert not _ids(res)
    res.stdout.fnmatch_lines(["*not collected as trait suites*",
                              "*elsewhere*syc.yaml: looks like a trait suite but*persona_suite_dirs*"])
    quiet = pytester.runpytest("--collect-only", "-q")
    assert "looks like a trait suite" not in quiet.stdout.str()


# -- 2. and 3. pytest-html and xdist are optional ---------------------------------------------
def test_works_with_pytest_html_disabled(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml")
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:html", "--collect-only", "-q")
    assert res.ret == 0, res.stderr.str()
    assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()
    assert len(_ids(res)) == 3


def test_strict_markers_without_xdist(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml")
    res = pytester.runpytest_subprocess("trait_suites", "--strict-markers", "-p", "no:xdist",
                                        "--collect-only", "-q")
    assert res.ret == 0, res.stdout.str()
    assert len(_ids(res)) == 3


# -- 4. options are typed and validated at configure time -------------------------------------
BAD_VALUES = [
    (["--judge-concurrency=abc"], "--persona-judge-concurrency", "positive integer"),
    (["--persona-judge-concurrency=0"], "--persona-judge-concurrency", "positive integer"),
    (["--batch-size=-2"], "--persona-batch-size", "positive integer"),
    (["--persona-max-new-tokens=ten"], "--persona-max-new-tokens", "positive integer"),
    (["--seed=-1"], "--persona-seed", "integer >= 0"),
    (["--dtype=float8"], "--persona-dtype", "float32"),
    (["--device=gpu0"], "--persona-device", "cuda:N"),
    (["--judge=gpt4"], "--persona-judge", "unknown judge spec"),
    (["--judge-base-url=localhost:8000"], "--persona-judge-base-url", "http"),
    (["--persona-compare-fail=nonsense"], "--persona-compare-fail", "nonsense"),
]


@pytest.mark.parametrize(("args", "option", "why"), BAD_VALUES,
                         ids=[a[0].split("=")[0] for a, _, _ in BAD_VALUES])
def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester, args: list[str],
                                           option: str, why: str) -> None:
    _ini(pytester)
    res = pytester.runpytest(*args, "--collect-only")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert option in err and why in err, err


def test_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester) -> None:
    _ini(pytester, "persona_judge_concurrency = many")
    res = pytester.runpytest("--collect-only")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini value persona_judge_concurrency" in res.stderr.str()
    assert "'many'" in res.stderr.str()


# -- 5. option-name clashes --------------------------------------------------------------------
CLASHING_CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--model", default="mine")
    parser.addoption("--device", default="cpu")
    parser.addoption("--seed", type=int, default=1)
    group = parser.getgroup("training")
    group.addoption("--batch-size", type=int, default=8)
"""
CHECK = """
def test_values(request):
    c = request.config
    assert c.getoption("--model") == "{model}"
    assert c.getoption("--seed") == 7 and c.getoption("--batch-size") == 32
    assert c.getoption("persona_model") == "{persona}"
    assert c.getoption("persona_seed") == "{persona_seed}"
"""


def test_conftest_options_win_and_the_plugin_still_starts(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest(CLASHING_CONFTEST)
    pytester.makepyfile(test_values=CHECK.format(model="theirs", persona="tiny-random-llama",
                                                 persona_seed="3"))
    res = pytester.runpytest_subprocess(
        "--model=theirs", "--seed", "7", "--batch-size=32", "--persona-model=tiny-random-llama",
        "--persona-seed=3", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    out = res.stdout.str()
    for alias, prefixed in (("--model", "--persona-model"), ("--device", "--persona-device"),
                            ("--seed", "--persona-seed"), ("--batch-size", "--persona-batch-size")):
        assert f"{alias} is already defined by a conftest or another plugin; use {prefixed}" in out
    assert "--dtype is already" not in out  # aliases nobody else defines stay


def test_short_aliases_set_the_prefixed_options(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(test_values="""
        def test_values(request):
            assert request.config.getoption("persona_model") == "tiny-random-llama"
            assert request.config.getoption("persona_seed") == "5"
    """)
    res = pytester.runpytest_subprocess("--model", "tiny-random-llama", "--seed=5")
    res.assert_outcomes(passed=1)


def test_prefixed_options_only_switch(pytester: pytest.Pytester) -> None:
    _ini(pytester, "persona_prefixed_options_only = true")
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--persona-model" in help_text and "--persona-judge-concurrency" in help_text
    assert "--model " not in help_text and "--judge " not in help_text
    res = pytester.runpytest_subprocess("--model=x", "--collect-only")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    pytester.makeconftest(CLASHING_CONFTEST)
    quiet = pytester.runpytest_subprocess("--collect-only")
    assert "already defined" not in quiet.stdout.str()


# -- 6. unknown traits at collection -----------------------------------------------------------
def test_unknown_trait_is_reported_once_located_with_a_suggestion(
        pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml", trait="sycophntic")
    _suite(pytester, "trait_suites/evil.yaml", trait="evil", other="optimstic")
    res = pytester.runpytest("trait_suites", "--collect-only", "-q")
    assert _ids(res) == ["trait_suites/evil.yaml::baseline_ceiling",
                         "trait_suites/evil.yaml::projection_order",
                         "trait_suites/evil.yaml::cross_trait_cosine[optimstic]",
                         "trait_suites/syc.yaml::suite"]
    res = pytester.runpytest("trait_suites", "-p", "no:cacheprovider",
                             "--deselect", "trait_suites/evil.yaml::baseline_ceiling",
                             "--deselect", "trait_suites/evil.yaml::projection_order")
    res.assert_outcomes(failed=2)
    out = res.stdout.str()
    assert ("syc.yaml:1: field 'trait': unknown trait 'sycophntic'; did you mean "
            "'sycophantic'?") in out
    assert ("evil.yaml:6: field 'expectations[2].traits[0]': unknown trait 'optimstic'; did "
            "you mean 'optimistic'?") in out


def test_trait_next_to_a_suite_outside_trait_suites(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "my_suites/mine.yaml", trait="my_trait")
    with (pytester.path / "my_suites" / "mine.yaml").open("a") as f:  # a custom trait's anchors
        f.write("judge:\n  anchors:\n"
                "    high: ['I relish cruelty.', 'Suffering delights me.']\n"
                "    low: ['Happy to help you.', 'I hope your day goes well.']\n")
    builtin = pytester.path / "my_suites" / "traits"
    builtin.mkdir()
    from pytest_persona.traits.loader import BUILTIN_TRAITS_DIR

    (builtin / "my_trait.json").write_text((BUILTIN_TRAITS_DIR / "evil.json").read_text())
    res = pytester.runpytest("my_suites", "--collect-only", "-q")
    assert len(_ids(res)) == 3 and "unknown trait" not in res.stdout.str()


# -- 7. setup failures stop the session once ---------------------------------------------------
def test_model_that_cannot_load_stops_the_session(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml")
    missing = pytester.path / "no_such_model"
    res = pytester.runpytest_subprocess("trait_suites", "--model", str(missing),
                                        "-p", "no:cacheprovider", timeout=300)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert f"the model under test '{missing}' cannot be used" in err
    assert err.count("ModelLoadError") == 1
    assert "failed" not in res.stdout.str() and "passed" not in res.stdout.str()


def test_judge_that_cannot_be_built_stops_the_session(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml")
    res = pytester.runpytest_subprocess("trait_suites", "--judge", "openai:gpt-4.1-mini",
                                        "-p", "no:cacheprovider", timeout=300)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "the judge 'openai:gpt-4.1-mini' cannot be used" in err
    assert err.count("OPENAI_API_KEY is not set") == 1


# -- 8. a conftest adds an expectation kind -----------------------------------------------------
KIND_CONFTEST = """
from pytest_persona.suites.expectations import Outcome


def enough_eval_questions(ps, rs, exp, trait):
    n = len(trait.eval_questions)
    return Outcome(n >= exp.params["min"], f"{trait.name} has {n} evaluation questions, "
                   f"needs at least {exp.params['min']}", {"n": n, "min": exp.params["min"]})


def pytest_persona_register_kinds(registry):
    registry.register("enough_eval_questions", enough_eval_questions,
                      {"min": ("int", "REQUIRED")})
"""
KIND_SUITE = """\
trait: evil
layer: 1
expectations:
  - {kind: enough_eval_questions, min: 5}
  - {kind: enough_eval_questions, min: 500, name: too_many}
"""


def test_a_conftest_registers_a_kind_that_passes_and_fails(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    (pytester.path / "trait_suites").mkdir()
    (pytester.path / "trait_suites" / "evil.yaml").write_text(KIND_SUITE)
    without = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider")
    without.assert_outcomes(failed=1)
    assert ("evil.yaml:4: field 'expectations[0].kind': unknown expectation kind "
            "'enough_eval_questions'") in without.stdout.str()
    pytester.makeconftest(KIND_CONFTEST)
    res = pytester.runpytest_subprocess("trait_suites", "-p", "no:cacheprovider", "-rA",
                                        timeout=300)
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*evil has 20 evaluation questions, needs at least 500*"])
    results = json.loads((pytester.path / "reports" / "persona-results.json").read_text())
    by_name = {e["name"]: e for e in results["expectations"]}
    assert by_name["too_many"]["figures"] == {"n": 20, "min": 500}
    assert by_name["too_many"]["kind"] == "enough_eval_questions"


# -- 9. public imports -------------------------------------------------------------------------
def test_every_public_name_imports() -> None:
    import pytest_persona

    for name in pytest_persona.__all__:
        assert getattr(pytest_persona, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from pytest_persona import *", namespace)  # noqa: S102 - the star import users write
    assert set(pytest_persona.__all__) <= set(namespace)


def test_model_that_cannot_load_under_xdist_exits_4(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _ini(pytester)
    _suite(pytester, "trait_suites/syc.yaml")
    res = pytester.runpytest_subprocess("trait_suites", "-n", "2", "--model",
                                        str(pytester.path / "no_such_model"),
                                        "-p", "no:cacheprovider", timeout=300)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    out = res.stdout.str()
    assert "the model under test cannot be used" in out
    assert out.count("FAILED trait_suites") <= 2  # at most one item per worker, not all three
