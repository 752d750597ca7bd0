"""Subject access and erasure over a store built by real ingests (Postfix log, ARF report, SES events).

The oracle is independent of analysis.privacy: a Python regex over every text value of every row
(test_privacy_inputs.rows_mentioning) and a raw byte search of the database file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analysis.errors import InputError
from analysis.privacy.address import bytes_pattern, parse_address, sql_pattern
from test_privacy_inputs import (
    ADDRESS,
    DECOYS,
    DOMAIN,
    LOCAL,
    LOGGED,
    ORACLE,
    ORACLE_QUOTED,
    QUOTED,
    build_store,
    rows_mentioning,
)

CLI = [sys.executable, "-m", "analysis"]
KEY = "test-privacy-key-0123456789abcdef"
# Every table a real ingest writes the address into (recipient_facts: the stored metrics cache).
PLANTED_TABLES = {
    "deliveries",
    "rejections",
    "messages",
    "pending_events",
    "quarantine",
    "complaints",
    "esp_events",
    "recipient_facts",
}
FILE_BYTES = re.compile(re.escape(LOCAL.encode()) + b"@(?i:" + re.escape(DOMAIN.encode()) + rb")(?!\.net)")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DELIVERABILITY_PRIVACY_KEY": KEY}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def _file_occurrences(db: Path) -> int:
    total = 0
    for p in (db, db.with_name(db.name + ".wal")):
        if p.exists():
            total += len(FILE_BYTES.findall(p.read_bytes()))
    return total


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacy")
    build_store(root / "planted.duckdb", root / "inputs")
    return root / "planted.duckdb"


@pytest.fixture
def copy(store: Path, tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    db.write_bytes(store.read_bytes())
    return db


ADDRESS_CASES = [
    # (text, address, should match)
    ("to=<bob@example.com>, relay", "bob@example.com", True),
    ("to=<bob@EXAMPLE.Com>, relay", "bob@example.com", True),
    ("to=<Bob@example.com>", "bob@example.com", False),  # local part is case-preserving
    ("to=<xbob@example.com>", "bob@example.com", False),
    ("to=<bob.x@example.com>", "x@example.com", False),
    ("bob@example.com.evil.org", "bob@example.com", False),
    ("bob@example.com-mail.org", "bob@example.com", False),
    ("write to bob@example.com.", "bob@example.com", True),
    ("sasl_username=bob@example.com", "bob@example.com", True),
    ('"recipient":"bob@example.com"}', "bob@example.com", True),
    ('to=<"john doe"@example.com>', '"john doe"@example.com', True),
    ('{"to": "\\"john doe\\"@example.com"}', '"john doe"@example.com', True),
    ("to=<john doe@example.com>", '"john doe"@example.com', True),
    ('to=<"john doer"@example.com>', '"john doe"@example.com', False),
    ('to=<"bob"@example.com>', "bob@example.com", True),  # needless quotes are the same address
    ("<bob@[192.0.2.1]>", "bob@[192.0.2.1]", True),
]


@pytest.mark.parametrize(("text", "address", "expected"), ADDRESS_CASES)
def test_address_patterns_agree(text: str, address: str, expected: bool) -> None:
    addr = parse_address(address)
    in_sql = (
        duckdb.connect().execute("SELECT regexp_matches(?, ?)", [text, sql_pattern(addr)]).fetchall()[0][0]
    )
    in_bytes = bytes_pattern(addr).search(text.encode()) is not None
    assert (in_sql, in_bytes) == (expected, expected)


@pytest.mark.parametrize(
    ("text", "local", "domain"),
    [
        ("Bob@Example.COM", "Bob", "example.com"),
        ("<bob@example.com>", "bob", "example.com"),
        ('"john \\"q\\" doe"@example.com', 'john "q" doe', "example.com"),
        ("a@b@example.com", "a@b", "example.com"),
    ],
)
def test_parse_address(text: str, local: str, domain: str) -> None:
    addr = parse_address(text)
    assert (addr.local, addr.domain) == (local, domain)


@pytest.mark.parametrize(
    "text", ["nobody", "@example.com", "bob@", '"unterminated@example.com', "bob@exa mple.com"]
)
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_address(text)


def test_planted_everywhere(store: Path) -> None:
    """The fixture is honest: real ingests put the address in every table that can hold one."""
    assert set(rows_mentioning(store, ORACLE)) == PLANTED_TABLES
    assert _file_occurrences(store) > 0  # visible in the bytes, so the erasure check below can fail


def test_export_finds_every_occurrence(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "subject.json"
    res = _run("privacy", "export", LOGGED, "--out", str(out), "--db", str(store), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert doc["counts"] == rows_mentioning(store, ORACLE)
    assert {t: len(rows) for t, rows in doc["tables"].items()} == doc["counts"]
    # Every exported row really mentions the person (decoys alone never qualify a row).
    for rows in doc["tables"].values():
        assert all(any(isinstance(v, str) and ORACLE.search(v) for v in row.values()) for row in rows)
    assert LOCAL not in res.stdout  # counts only on the terminal


def test_export_quoted_local_part_and_fold_case(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.json"
    res = _run(
        "privacy",
        "export",
        QUOTED.upper().replace('"JOHN Q DOE"', '"john q doe"'),
        "--out",
        str(out),
        "--db",
        str(store),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["counts"] == rows_mentioning(store, ORACLE_QUOTED)
    folded = tmp_path / "f.json"
    res = _run(
        "privacy", "export", ADDRESS, "--fold-case", "--out", str(folded), "--db", str(store), cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    exact = rows_mentioning(store, ORACLE)
    assert json.loads(folded.read_text())["counts"]["deliveries"] == exact["deliveries"] + 1  # + the decoy


def _outcomes(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "schema": con.execute(
                "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() ORDER BY ALL"
            ).fetchall(),
            "views": con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
            ).fetchall(),
            "outcomes": con.execute(
                "SELECT final_status, COUNT(*) FROM recipient_outcomes GROUP BY ALL ORDER BY ALL"
            ).fetchall(),
            "deliveries": con.execute(
                "SELECT status, dsn, severity, COUNT(*) FROM deliveries GROUP BY ALL ORDER BY ALL"
            ).fetchall(),
            "rejections": con.execute(
                "SELECT action, reply_code, COUNT(*) FROM rejections GROUP BY ALL"
            ).fetchall(),
            "complaints": con.execute(
                "SELECT feedback_type, COUNT(*) FROM complaints GROUP BY ALL ORDER BY ALL"
            ).fetchall(),
            "esp_events": con.execute(
                "SELECT kind, COUNT(*) FROM esp_events GROUP BY ALL ORDER BY ALL"
            ).fetchall(),
            "sizes": [
                (t, con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchall()[0][0])
                for t in sorted(PLANTED_TABLES)
            ],
        }
    finally:
        con.close()


def test_erase_leaves_no_trace_and_keeps_counts(copy: Path, tmp_path: Path) -> None:
    before = _outcomes(copy)
    decoy_rows = rows_mentioning(copy, re.compile(re.escape(DECOYS[0])))
    dry = _run("privacy", "erase", ADDRESS, "--db", str(copy), "--dry-run", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["rows"] == rows_mentioning(copy, ORACLE)
    assert set(rows_mentioning(copy, ORACLE)) == PLANTED_TABLES  # the dry run changed nothing

    res = _run("privacy", "erase", LOGGED, "--db", str(copy), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert set(result["rows"]) == PLANTED_TABLES
    assert result["hits_in_file"] == 0
    # DuckDB keeps superseded blocks after a checkpoint (here uncompressed, so the bytes show it): the
    # database is rewritten whenever rows changed.
    assert result["hits_after_checkpoint"] > 0 and result["compacted"]

    assert rows_mentioning(copy, ORACLE) == {}
    assert _file_occurrences(copy) == 0, "the address's bytes are still in the database file"
    assert _outcomes(copy) == before  # a bounce stays a bounce, a complaint a complaint
    assert rows_mentioning(copy, re.compile(re.escape(DECOYS[0]))) == decoy_rows  # others untouched
    con = duckdb.connect(str(copy), read_only=True)
    try:
        raw = con.execute("SELECT raw FROM quarantine").fetchall()
        assert any("erased-" in r[0] and DOMAIN in r[0] for r in raw)
        audit = con.execute("SELECT command, params_json FROM audit_log ORDER BY audit_id").fetchall()
    finally:
        con.close()
    assert [a[0] for a in audit][-2:] == ["privacy erase", "privacy erase"]  # the dry run, the erasure
    assert all("hmac:" in a[1] and LOCAL not in a[1] for a in audit)
    listed = _run("audit", "--db", str(copy), "--address", ADDRESS, "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [e["command"] for e in entries][-2:] == ["privacy erase", "privacy erase"]
    assert [e["status"] for e in entries][-2:] == ["dry-run", "ok"] and LOCAL not in listed.stdout
    other = _run("audit", "--db", str(copy), "--address", DECOYS[0], cwd=tmp_path)
    assert other.returncode == 0 and other.stdout == ""  # nobody asked about the decoy


def test_erase_quoted_address_in_the_lake(copy: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    exported = _run("export", "--db", str(copy), "--out", str(lake), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    planted = rows_mentioning(copy, ORACLE_QUOTED)
    res = _run(
        "privacy", "erase", QUOTED, "--db", str(copy), "--export-dir", str(lake), "--json", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert {f.split("/")[0] for f in json.loads(res.stdout)["lake_files"]} == set(planted)
    assert rows_mentioning(copy, ORACLE_QUOTED) == {}
    con = duckdb.connect()
    for table in sorted(p.name for p in lake.iterdir()):
        files = sorted((lake / table).glob("**/*.parquet"))
        rows = [
            r for f in files for r in con.execute(f"SELECT * FROM read_parquet('{f.as_posix()}')").fetchall()
        ]
        assert not any(isinstance(v, str) and ORACLE_QUOTED.search(v) for r in rows for v in r), table
        if table in planted:
            assert (
                len(rows)
                == duckdb.connect(str(copy), read_only=True)
                .execute(f'SELECT COUNT(*) FROM "{table}"')
                .fetchall()[0][0]
            )  # redacted, not dropped
    assert set(rows_mentioning(copy, ORACLE)) == PLANTED_TABLES  # the other subject is still there


def test_erase_refuses_bad_input(tmp_path: Path) -> None:
    res = _run("privacy", "erase", "not-an-address", "--db", str(tmp_path / "none.duckdb"), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_ingest_export_and_reruns_are_audited(tmp_path: Path) -> None:
    from test_privacy_inputs import write_inputs

    db = tmp_path / "a.duckdb"
    paths = [str(p) for p in write_inputs(tmp_path / "in")]
    for args in (
        ["ingest", *paths, "--db", str(db), "--year", "2026"],
        ["ingest", paths[0], "--db", str(db)],
    ):
        res = _run(*args, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    res = _run("export", "--db", str(db), "--out", str(tmp_path / "lake"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    listed = _run("audit", "--db", str(db), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["command"], e["status"]) for e in entries] == [
        ("ingest", "ok"),
        ("ingest", "unchanged"),
        ("export", "ok"),
    ]
    assert entries[0]["counts"]["deliveries"] > 0 and entries[2]["counts"]["deliveries"] > 0
    assert entries[0]["user"] and entries[0]["params"]["paths"] == paths
    later = _run("audit", "--db", str(db), "--since", "2999-01-01", cwd=tmp_path)
    assert later.returncode == 0 and later.stdout == ""
    bad = _run("audit", "--db", str(db), "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr
