"""Parameter specs from a `parameters` cell, CLI coercion, validation and output names (no kernel)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.errors import InputError
from analysis.reports.params import (
    Param,
    check_before_run,
    coerce,
    output_stem,
    parse_assignments,
    parse_parameters_source,
    validate,
)
from analysis.reports.runner import list_notebooks, notebooks_dir

SOURCE = '''# header comment is fine
db: str = ""  # the database
n: int = 5  # how many
ratio: float = 0.5  # a share
flag: bool = False  # a switch
maybe: str | None = None  # optional text
plain = 3  # inferred int
'''


def test_spec_names_types_defaults_and_comments() -> None:
    spec = parse_parameters_source(SOURCE)
    assert [(p.name, p.type, p.default, p.optional, p.comment) for p in spec] == [
        ("db", "str", "", False, "the database"),
        ("n", "int", 5, False, "how many"),
        ("ratio", "float", 0.5, False, "a share"),
        ("flag", "bool", False, False, "a switch"),
        ("maybe", "str", None, True, "optional text"),
        ("plain", "int", 3, False, "inferred int"),
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x: list = []", "unsupported annotation"),
        ("x = foo()", "default must be a literal"),
        ("import os", "only `name: type = literal`"),
        ("x: int = (", "not valid Python"),
        ("x = None", "cannot infer a type"),
    ],
)
def test_bad_parameter_cells_are_rejected(source: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_parameters_source(source)


P_INT = Param("n", "int", 1, False, "")
P_FLOAT = Param("r", "float", 0.5, False, "")
P_BOOL = Param("b", "bool", False, False, "")
P_OPT = Param("o", "str", None, True, "")


@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        (P_INT, "42", 42),
        (P_INT, "-3", -3),
        (P_FLOAT, "0.9", 0.9),
        (P_FLOAT, "1e-3", 0.001),
        (P_BOOL, "true", True),
        (P_BOOL, "No", False),
        (P_BOOL, "1", True),
        (P_OPT, "none", None),
        (P_OPT, "acme", "acme"),
    ],
)
def test_coerce_ok(param: Param, text: str, expected: object) -> None:
    assert coerce(param, text) == expected


@pytest.mark.parametrize(("param", "text"), [(P_INT, "4.5"), (P_INT, "x"), (P_FLOAT, "nan"), (P_FLOAT, "inf"),
                                             (P_BOOL, "maybe")])
def test_coerce_rejects(param: Param, text: str) -> None:
    with pytest.raises(InputError, match=f"parameter {param.name}"):
        coerce(param, text)


def test_assignments_unknown_and_malformed() -> None:
    spec = parse_parameters_source(SOURCE)
    assert parse_assignments(spec, ["n=7", "maybe=x=y"]) == {"n": 7, "maybe": "x=y"}
    with pytest.raises(InputError, match="unknown parameter 'nope'"):
        parse_assignments(spec, ["nope=1"])
    with pytest.raises(InputError, match="expected KEY=VALUE"):
        parse_assignments(spec, ["n"])


def test_validate_casts_and_maps_filters(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    db.write_bytes(b"")
    p = validate(db=str(db), start="2026-03-01", end="2026-03-02T12:00:00+02:00", account="acme",
                 sender_domain="", provider="gmail", confidence=0.9, min_volume=10, other=1)
    assert p.db == db
    assert p.start == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert p.end == dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    assert dict(p.where) == {"account": "acme", "provider": "gmail"}
    assert p.stats == {"confidence": 0.9, "min_volume": 10}
    assert p.extra == {"other": 1}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"db": "/nonexistent/x.duckdb"}, "parameter db: no database"),
        ({"start": "yesterday"}, "parameter start"),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "start .* is not before end"),
        ({"confidence": 1.5}, "parameter confidence"),
        ({"confidence": 0}, "parameter confidence"),
        ({"min_volume": -1}, "parameter min_volume"),
        ({"account": 3}, "parameter account"),
    ],
)
def test_validate_rejects(values: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate(**values)


def test_check_before_run_needs_required_values() -> None:
    spec = [Param("x", "int", None, False, "")]
    with pytest.raises(InputError, match="parameter x: a value is required"):
        check_before_run(spec, {})


def test_output_stem_derives_from_non_default_parameters_only() -> None:
    spec = parse_parameters_source(SOURCE)
    assert output_stem("nb", spec, {}) == "nb"
    assert output_stem("nb", spec, {"db": "/x/y.duckdb", "n": 5}) == "nb"  # db and defaults left out
    assert output_stem("nb", spec, {"n": 7, "flag": True}) == "nb__n-7__flag-True"
    a = output_stem("nb", spec, {"maybe": "a b"})
    b = output_stem("nb", spec, {"maybe": "a-b"})
    assert a != b and "/" not in output_stem("nb", spec, {"maybe": "../../etc/passwd"})
    assert len(output_stem("nb", spec, {"maybe": "x" * 500})) <= 150


def test_every_shipped_notebook_has_a_parseable_commented_spec() -> None:
    infos = list_notebooks(notebooks_dir(Path(__file__).resolve().parents[1] / "notebooks"))
    assert infos, "no notebooks found"
    for info in infos:
        assert info.params, info.name
        for p in info.params:
            assert p.comment, f"{info.name}: parameter {p.name} has no comment"


def test_find_db_from_the_notebooks_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.reports.params import find_db

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "deliverability.duckdb").write_bytes(b"")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("DELIVERABILITY_DB", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert find_db("") == tmp_path / "data" / "deliverability.duckdb"
    assert find_db("other.duckdb") == Path("other.duckdb")  # an explicit path is taken as given
    monkeypatch.setenv("DELIVERABILITY_DB", "/somewhere/else.duckdb")
    assert find_db("") == Path("/somewhere/else.duckdb")
