"""`deliverability rates | latency | replies` on the golden fixture: formats, filters, clean failures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.cli import main
from test_metrics import build_store


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_store(tmp_path_factory.mktemp("cli") / "fixture.duckdb", with_complaints=True))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_rates_json_is_a_list_of_rows(db: str) -> None:
    code, out, _ = run("rates", "--db", db, "--by", "sender_domain,day", "--json", "--min-volume", "5")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 3
    acme = rows[0]
    assert (acme["sender_domain"], acme["day"]) == ("acme.example", "2026-11-20T00:00:00+00:00")
    assert (acme["attempted"], acme["hard_bounced"], acme["rejected"]) == (6, 1, 1)
    assert acme["hard_bounce_rate_low"] == pytest.approx(0.0301, abs=1e-4)
    assert acme["flags"] == [] and acme["gated"] is False
    assert rows[2]["sender_domain"] is None and rows[2]["gated"] is True


def test_rates_csv(db: str) -> None:
    code, out, _ = run("rates", "--db", db, "--by", "day", "--csv", "--where", "provider=google")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"][:10], r["attempted"], r["delivered"]) for r in rows] == [
        ("2026-11-20", "3", "2"),  # r1, r2, r5 first tried on the 20th; r1 and r5 delivered
        ("2026-11-21", "6", "3"),
    ]
    assert "complaint_rate_low" in rows[0]


def test_rates_table_and_window(db: str) -> None:
    code, out, _ = run(
        "rates", "--db", db, "--by", "sender_domain", "--since", "2026-11-21", "--confidence", "0.99"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["sender_domain", "attempted", "delivered"]
    assert lines[1].startswith("---")
    beta = next(line for line in lines if line.startswith("beta.example"))
    assert beta.split()[1:3] == ["6", "3"]
    assert "yes" in beta  # gated at the default minimum volume of 100


def test_latency_and_replies(db: str) -> None:
    code, out, _ = run("latency", "--db", db, "--by", "provider", "--json")
    assert code == 0
    google = next(r for r in json.loads(out) if r["provider"] == "google")
    assert google["n"] == 5 and google["delay_p90"] == pytest.approx(2522.4)
    code, out, _ = run("replies", "--db", db, "--status", "bounced", "--limit", "5")
    assert code == 0
    assert "User unknown" in out and "r2@gmail.com" not in out and "Try again later" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rates", "--by", "sender"], "unknown dimension"),
        (["rates", "--by", " , "], "--by needs"),
        (["rates", "--by", "day", "--where", "provider"], "DIM=VALUE"),
        (["rates", "--by", "day", "--since", "yesterday"], "ISO 8601"),
        (["rates", "--by", "day", "--confidence", "1"], "confidence"),
        (["rates", "--by", "day", "--min-volume", "-1"], "min-volume"),
        (["replies", "--status", "sent"], "unknown status"),
        (["latency", "--by", "day", "--where", "day=tomorrow"], "ISO 8601"),
    ],
)
def test_bad_input_is_one_line_exit_2(db: str, args: list[str], message: str) -> None:
    code, _out, err = run(*args, "--db", db)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_database(tmp_path: Path) -> None:
    code, _, err = run("rates", "--by", "day", "--db", str(tmp_path / "absent.duckdb"))
    assert code == 2 and "no database" in err


@pytest.mark.parametrize("command", ["rates", "latency", "replies"])
def test_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "--since" in out and "--json" in out
