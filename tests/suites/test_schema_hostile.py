"""Hostile suite files: each one is a located SuiteError, quickly, and never runs code."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_persona.suites import schema
from pytest_persona.suites.schema import SuiteError, load_located, load_suite

OK_TAIL = "expectations:\n  - {kind: baseline_ceiling, max: 3}\n"


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: ``levels`` lists of 9 aliases to the level below."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[bytes, int, str, str]] = {
    # name: (content, line, field, message fragment)
    "latin1": (b"trait: evil\n" + OK_TAIL.encode() + b"# caf\xe9\n", 4, "", "not valid UTF-8"),
    "python_name": (b"trait: !!python/name:os.system\n" + OK_TAIL.encode(), 1, "trait",
                    "unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system'"),
    "python_object": (b"trait: evil\nextraction: !!python/object/apply:os.system [echo hi]\n"
                      + OK_TAIL.encode(), 2, "extraction", "unsupported YAML tag"),
    "unknown_tag": (b"trait: !vault xyz\n" + OK_TAIL.encode(), 1, "trait",
                    "unsupported YAML tag '!vault'"),
    "complex_key": (b"trait: evil\n? [a, b]\n: 1\n" + OK_TAIL.encode(), 2, "",
                    "a mapping key must be a plain string"),
    "deep_flow": (b"trait: evil\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n", 2, "",
                  "nesting deeper than 64 levels"),
    "deep_block": (b"trait: evil\n" + b"".join(b"  " * i + b"k:\n" for i in range(80)), 65, "",
                   "nesting deeper than 64 levels"),
    "recursive_alias": (b"trait: evil\nx: &a [*a]\n", 2, "", "refers to a node that contains"),
    "control_char": (b"trait: evil\nx: \x07\n", 2, "", "unacceptable character #x0007"),
    "duplicate_key": (b"trait: evil\ntrait: good\n" + OK_TAIL.encode(), 2, "trait",
                      "duplicate key"),
    "bad_int": (b"trait: evil\nlayer: " + b"9" * 5000 + b"\n", 2, "layer", "invalid int value"),
    "inf_coefficient": (b"trait: evil\ncoefficients: [-4, 0, 4, .inf]\n" + OK_TAIL.encode(), 2,
                        "coefficients[3]", "must be a finite number, got '.inf'"),
    "nan_threshold": (b"trait: evil\nexpectations:\n  - kind: steering_raises\n    coeff: 3\n"
                      b"    threshold: .nan\n", 5, "expectations[0].threshold",
                      "must be a finite number"),
    "neg_inf_max": (b"trait: evil\nexpectations:\n  - {kind: baseline_ceiling, max: -.Inf}\n", 3,
                    "expectations[0].max", "must be a finite number"),
    "overflow_float": (b"trait: evil\nexpectations:\n  - {kind: checkpoint_shift, max: 1.0e+999}\n", 3,
                       "expectations[0].max", "must be a finite number"),
    "inf_extraction": (b"trait: evil\nextraction: {temperature: .inf}\n" + OK_TAIL.encode(), 2,
                       "extraction.temperature", "must be a finite number"),
    "inf_per_model": (b"trait: evil\nmodels:\n  m: {coefficients: [0, .nan]}\n" + OK_TAIL.encode(),
                      3, "models.m.coefficients[1]", "must be a finite number"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_suite_is_a_located_error(tmp_path: Path, name: str) -> None:
    content, line, field, fragment = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    t0 = time.perf_counter()
    with pytest.raises(SuiteError) as info:
        load_suite(path, "m")
    assert time.perf_counter() - t0 < 1.0
    err = info.value
    assert (err.path, err.line, err.field) == (path, line, field), str(err)
    assert fragment in str(err) and str(err).startswith(f"{path}:{line}:")


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text(billion_laughs(9) + "trait: evil\n" + OK_TAIL)
    t0 = time.perf_counter()
    with pytest.raises(SuiteError, match="expands to more than 20000 nodes"):
        load_located(path)
    assert time.perf_counter() - t0 < 1.0
    # a wider, deeper bomb too (the unbounded loader never finishes this one)
    path.write_text(billion_laughs(30))
    t0 = time.perf_counter()
    with pytest.raises(SuiteError, match="alias bomb"):
        load_located(path)
    assert time.perf_counter() - t0 < 1.0


def test_alias_count_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text("a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n")
    with pytest.raises(SuiteError, match="more than 1000 aliases") as info:
        load_located(path)
    assert info.value.line == 2


def test_oversized_document(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("trait: evil\n" + OK_TAIL + "# " + "x" * schema.MAX_SUITE_BYTES + "\n")
    with pytest.raises(SuiteError, match=f"larger than {schema.MAX_SUITE_BYTES} bytes"):
        load_located(path)


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text("trait: evil\ncoefficients: &cs [-2, 0, 2]\nexpectations:\n"
                    "  - {kind: monotonic, coefficients: *cs}\n"
                    "  - {kind: coherence_guard, coefficients: *cs}\n")
    suite = load_suite(path)
    assert [e.params["coefficients"] for e in suite.expectations] == [[-2, 0, 2]] * 2
    assert suite.located.line(("expectations", 1)) == 5


@pytest.mark.parametrize("name_field,line,field", [
    ("name: 'c\"><img src=x onerror=alert(1)>'", 4, "expectations[0].name"),
    ("name: 'a::b'", 4, "expectations[0].name"),
    ("name: 'x y'", 4, "expectations[0].name"),
    ("name: '" + "a" * 121 + "'", 4, "expectations[0].name"),
])
def test_unsafe_expectation_names(tmp_path: Path, name_field: str, line: int, field: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"trait: evil\nexpectations:\n  - kind: baseline_ceiling\n    {name_field}\n"
                    "    max: 3\n")
    with pytest.raises(SuiteError, match="must be 1-120 characters from letters") as info:
        load_suite(path)
    assert (info.value.line, info.value.field) == (line, field)


def test_unsafe_generated_id_asks_for_a_name(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("trait: evil\nexpectations:\n"
                    "  - {kind: cross_trait_cosine, traits: ['<svg onload=alert(1)>']}\n")
    with pytest.raises(SuiteError, match="give the expectation a 'name'") as info:
        load_suite(path)
    assert info.value.field == "expectations[0].kind"


def test_safe_ids_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "my-suite_v2.yaml"
    path.write_text("trait: evil\nexpectations:\n"
                    "  - {kind: steering_raises, coeff: -1.5e+3, name: 'raise_v2[a=1,b=-2.5]'}\n"
                    "  - {kind: steering_lowers, coeff: -3}\n")
    assert [e.id for e in load_suite(path).expectations] == [
        "raise_v2[a=1,b=-2.5]", "steering_lowers[coeff=-3]"]


def test_unsafe_suite_file_name(tmp_path: Path) -> None:
    path = tmp_path / "s'><svg onload=alert(1)>.yaml"
    path.write_text("trait: evil\n" + OK_TAIL)
    with pytest.raises(SuiteError, match="suite file name .* must use only letters") as info:
        load_suite(path)
    assert info.value.line == 1
