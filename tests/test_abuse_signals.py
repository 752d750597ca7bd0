"""Each abuse signal on small stores built with SQL inserts: table-driven, raised or not, and its value.

Also: the ranking rules (two families before anything above warn), false-discovery control across
accounts, thresholds configuration, scopes, CSV safety, the commands' failure modes and SQL portability.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from analysis.abuse import Scope, Signal, load_config, load_facts, rank_facts, verdict
from analysis.abuse import queries as abuse_queries
from analysis.abuse.evidence import safe_cell
from analysis.abuse.signals import judge_rates
from analysis.abuse.window import Window
from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.stats import binomial_sf, wilson_interval
from analysis.store import connect

T0 = dt.datetime(2026, 11, 17, tzinfo=dt.UTC)
WINDOW = Window(T0, T0 + dt.timedelta(days=1), T0 - dt.timedelta(days=28))
CFG = load_config()


@dataclass
class Store:
    """A store filled row by row: inventory account acme (SASL acme-app, domain acme.example)."""

    con: duckdb.DuckDBPyConnection
    n: int = 0
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)

    def send(
        self,
        t: dt.datetime,
        rcpt: str = "",
        *,
        sasl: str | None = "acme-app",
        ip: str = "192.0.2.1",
        sender: str = "news@acme.example",
        attempts: tuple[tuple[str, str, str | None, str | None, str], ...] = (
            ("sent", "2.0.0", None, None, "250 ok"),
        ),
        provider: str = "gmail",
    ) -> str:
        """One message to one recipient; attempts are (status, dsn, reason, severity, reply)."""
        self.n += 1
        key = f"mx/postfix/Q{self.n}/{self.n}"
        rcpt = rcpt or f"r{self.n}@gmail.com"
        self.messages.append(
            (
                key,
                "mx",
                "postfix",
                f"Q{self.n}",
                t,
                t,
                "smtpd",
                sasl,
                ip,
                f"<{self.n}@x>",
                sender,
                sender.rsplit("@", 1)[1],
            )
        )
        for i, (status, dsn, reason, severity, reply) in enumerate(attempts):
            self.deliveries.append(
                (
                    1,
                    len(self.deliveries) + 1,
                    key,
                    t + dt.timedelta(seconds=i + 1),
                    "mx",
                    "postfix",
                    "smtp",
                    f"Q{self.n}",
                    rcpt,
                    rcpt.rsplit("@", 1)[1],
                    status,
                    dsn,
                    reply,
                    provider,
                    reason,
                    severity,
                )
            )
        return key

    def many(self, count: int, start: dt.datetime = T0, **kw: Any) -> list[str]:
        return [self.send(start + dt.timedelta(seconds=37 * i), **kw) for i in range(count)]

    def finish(self) -> duckdb.DuckDBPyConnection:
        insert(self.con, "messages", MESSAGE_COLUMNS, self.messages)
        insert(self.con, "deliveries", DELIVERY_COLUMNS, self.deliveries)
        return self.con


MESSAGE_COLUMNS = (
    "message_key",
    "host",
    "instance",
    "qid",
    "first_seen",
    "last_seen",
    "origin",
    "sasl_username",
    "client_ip",
    "message_id",
    "sender",
    "sender_domain",
)
DELIVERY_COLUMNS = (
    "file_id",
    "line_no",
    "message_key",
    "ts",
    "host",
    "instance",
    "daemon",
    "qid",
    "recipient",
    "recipient_domain",
    "status",
    "dsn",
    "reply",
    "provider",
    "reason",
    "severity",
)


def insert(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Rows through a polars frame (executemany is one statement per row)."""
    if not rows:
        return
    con.register(
        "rows_frame", pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    )
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM rows_frame")
    con.unregister("rows_frame")


def new_store(path: Path) -> Store:
    con = connect(path)
    con.execute("INSERT INTO inventory_accounts VALUES ('acme', 'Acme', 'active')")
    con.execute("INSERT INTO inventory_sasl_users VALUES ('acme-app', 'acme')")
    con.execute("INSERT INTO inventory_domains VALUES ('acme.example', 'acme', 'bounce.acme.example')")
    con.execute("INSERT INTO inventory_relay_ips VALUES ('192.0.2.10', 4)")
    con.execute(
        "INSERT INTO inventory_traps VALUES ('address', 'spamtrap@trap.example'), ('domain', 'trap.example')"
    )
    return Store(con)


HARD = ("bounced", "5.1.1", "userunknown", "hard", "550 5.1.1 user unknown")
SPAM = ("bounced", "5.7.1", "blocked", "soft", "554 5.7.1 Client host blocked using zen.spamhaus.org")
STORM = ("deferred", "4.7.28", "blocked", "soft", "421 4.7.28 unusual rate of unsolicited mail")
FULL = ("deferred", "4.2.2", "mailboxfull", "soft", "452 4.2.2 mailbox full")
SENT = ("sent", "2.0.0", None, None, "250 ok")


def _complaints(s: Store, keys: list[str]) -> Store:
    s.con.executemany(
        "INSERT INTO complaints (complaint_id, file_id, record_no, received_at, feedback_type, report_variant,"
        " source, provider, message_key) VALUES (?, 1, ?, ?, 'abuse', 'arf', 'arf', 'yahoo', ?)",
        [(f"c{i}", i, T0 + dt.timedelta(hours=2), k) for i, k in enumerate(keys)],
    )
    return s


def _dmarc(s: Store, rows: list[tuple[str, int, bool]]) -> Store:
    s.con.execute(
        "INSERT INTO dmarc_reports (report_key, org_name, report_id, date_begin, date_end, domain, record_count,"
        " message_count, file_id) VALUES ('rk', 'Yahoo', 'r1', ?, ?, 'acme.example', 2, 100, 1)",
        [T0, T0 + dt.timedelta(days=1)],
    )
    s.con.executemany(
        "INSERT INTO dmarc_records (report_key, record_no, file_id, source_ip, message_count, dmarc_pass, header_from)"
        " VALUES ('rk', ?, 1, ?, ?, ?, 'acme.example')",
        [(i, ip, c, ok) for i, (ip, c, ok) in enumerate(rows)],
    )
    return s


def _dnsbl(s: Store, ip: str, states: list[str]) -> Store:
    s.con.executemany(
        "INSERT INTO dns_observations (run_id, observed_at, subject, check_name, state, severity, data_json)"
        " VALUES (?, ?, ?, 'dnsbl:zen.example', ?, 'error', '{}')",
        [(f"run{i}", T0 - dt.timedelta(days=2 - i), ip, st) for i, st in enumerate(states)],
    )
    return s


def _history(s: Store, days: int, per_day: int, hour: int = 10, **kw: Any) -> Store:
    for d in range(1, days + 1):
        s.many(per_day, T0 - dt.timedelta(days=d) + dt.timedelta(hours=hour), **kw)
    return s


def _pool_history(s: Store, days: int, pool: int) -> Store:
    for d in range(1, days + 1):
        for i in range(pool):
            s.send(T0 - dt.timedelta(days=d) + dt.timedelta(seconds=60 * i), f"p{i}@gmail.com")
    return s


Build = Callable[[Store], object]
CASES: list[tuple[str, str, Build, bool, float | None]] = [
    (
        "hard bounces 15 %",
        "hard_bounce_rate",
        lambda s: (s.many(170), s.many(30, attempts=(HARD,))),
        True,
        0.15,
    ),
    (
        "hard bounces 6 %: lower bound below 5 %",
        "hard_bounce_rate",
        lambda s: (s.many(188), s.many(12, attempts=(HARD,))),
        False,
        0.06,
    ),
    (
        "1 hard bounce of 3",
        "hard_bounce_rate",
        lambda s: (s.many(2), s.many(1, attempts=(HARD,))),
        False,
        1 / 3,
    ),
    (
        "unknown users 20 %",
        "unknown_user_rate",
        lambda s: (s.many(160), s.many(40, attempts=(HARD,))),
        True,
        0.2,
    ),
    (
        "complaints 1 %",
        "complaint_rate",
        lambda s: _complaints(s, s.many(1000, provider="yahoo")[:10]),
        True,
        0.01,
    ),
    (
        "complaints 0.1 %",
        "complaint_rate",
        lambda s: _complaints(s, s.many(1000, provider="yahoo")[:1]),
        False,
        0.001,
    ),
    (
        "complaints from a non-FBL provider's volume",
        "complaint_rate",
        lambda s: _complaints(s, s.many(1000, provider="gmail")[:10]),
        False,
        1.0,
    ),
    ("trap address", "trap_hits", lambda s: (s.many(50), s.send(T0, "SpamTrap@trap.example")), True, 1.0),
    ("trap domain", "trap_hits", lambda s: (s.many(50), s.send(T0, "x@trap.example")), True, 1.0),
    ("no trap", "trap_hits", lambda s: s.many(50), False, 0.0),
    (
        "policy rejections 15 %",
        "policy_rejections",
        lambda s: (s.many(170), s.many(30, attempts=(SPAM,))),
        True,
        0.15,
    ),
    (
        "blocklist named in a soft 4xx deferral is not a rejection",
        "policy_rejections",
        lambda s: (
            s.many(170),
            s.many(30, attempts=(("deferred", "4.7.1", "blocked", "soft", SPAM[4]), SENT)),
        ),
        False,
        0.0,
    ),
    (
        "deferral storm 25 %",
        "deferral_storm",
        lambda s: (s.many(150), s.many(50, attempts=(STORM, SENT))),
        True,
        0.25,
    ),
    (
        "mailbox-full deferrals are no storm",
        "deferral_storm",
        lambda s: (s.many(150), s.many(50, attempts=(FULL, SENT))),
        False,
        0.0,
    ),
    (
        "client IP listed",
        "dnsbl_listed_ips",
        lambda s: (s.many(5, ip="203.0.113.7"), _dnsbl(s, "203.0.113.7", ["listed"])),
        True,
        1.0,
    ),
    (
        "client IP delisted since",
        "dnsbl_listed_ips",
        lambda s: (s.many(5, ip="203.0.113.7"), _dnsbl(s, "203.0.113.7", ["listed", "not_listed"])),
        False,
        0.0,
    ),
    (
        "SASL user from 6 IPs",
        "sasl_client_ips",
        lambda s: [s.send(T0 + dt.timedelta(minutes=i), ip=f"203.0.113.{i}") for i in range(6)],
        True,
        6.0,
    ),
    (
        "SASL user from 2 IPs",
        "sasl_client_ips",
        lambda s: [s.send(T0 + dt.timedelta(minutes=i), ip=f"203.0.113.{i % 2}") for i in range(6)],
        False,
        2.0,
    ),
    (
        "3 new client IPs",
        "new_client_ips",
        lambda s: (_history(s, 3, 10), [s.many(3, ip=f"203.0.113.{i}") for i in range(3)]),
        True,
        3.0,
    ),
    (
        "new client IPs without history",
        "new_client_ips",
        lambda s: (_history(s, 1, 5), [s.many(3, ip=f"203.0.113.{i}") for i in range(3)]),
        False,
        None,
    ),
    (
        "half the mail from an unverified domain",
        "unverified_from_domains",
        lambda s: (s.many(50), s.many(50, sender="ceo@evil.example")),
        True,
        0.5,
    ),
    (
        "subdomain and return path are verified",
        "unverified_from_domains",
        lambda s: (s.many(50, sender="a@mail.acme.example"), s.many(50, sender="b@bounce.acme.example")),
        False,
        0.0,
    ),
    (
        "SASL user not in the inventory",
        "unverified_from_domains",
        lambda s: s.many(50, sasl="someone", sender="x@evil.example"),
        False,
        None,
    ),
    ("all recipients new", "new_recipients", lambda s: (_pool_history(s, 1, 100), s.many(150)), True, 1.0),
    (
        "the usual recipients",
        "new_recipients",
        lambda s: (_pool_history(s, 1, 100), [s.send(T0, f"p{i}@gmail.com") for i in range(100)]),
        False,
        0.0,
    ),
    (
        "ten times the usual recipients",
        "recipient_fanout",
        lambda s: (_pool_history(s, 5, 20), s.many(200)),
        True,
        10.0,
    ),
    (
        "the usual number of recipients",
        "recipient_fanout",
        lambda s: (_pool_history(s, 5, 20), [s.send(T0, f"p{i}@gmail.com") for i in range(20)]),
        False,
        1.0,
    ),
    (
        "DMARC failing from an unknown source",
        "dmarc_unknown_sources",
        lambda s: (s.many(1), _dmarc(s, [("203.0.113.5", 60, False), ("192.0.2.10", 40, True)])),
        True,
        0.6,
    ),
    (
        "DMARC failing from the relay itself",
        "dmarc_unknown_sources",
        lambda s: (s.many(1), _dmarc(s, [("192.0.2.10", 60, False), ("192.0.2.10", 40, True)])),
        False,
        0.0,
    ),
    (
        "volume spike at 10:00",
        "volume_spike",
        lambda s: (_history(s, 7, 5), s.many(60, T0 + dt.timedelta(hours=10), ip="192.0.2.1")),
        True,
        None,
    ),
    (
        "usual volume at 10:00",
        "volume_spike",
        lambda s: (_history(s, 7, 5), s.many(5, T0 + dt.timedelta(hours=10))),
        False,
        0.0,
    ),
]


def signal_of(
    con: duckdb.DuckDBPyConnection, name: str, account: str = "acme", scope: Scope | None = None
) -> Signal:
    ranking = rank_facts(load_facts(con, WINDOW, scope or Scope()), CFG)
    suspect = next(s for s in ranking.suspects if s.account == account)
    return next(s for s in suspect.signals if s.name == name)


@pytest.mark.parametrize(("case", "name", "build", "raised", "value"), CASES, ids=[c[0] for c in CASES])
def test_signal(
    tmp_path: Path, case: str, name: str, build: Build, raised: bool, value: float | None
) -> None:
    s = new_store(tmp_path / "s.duckdb")
    build(s)
    con = s.finish()
    account = "someone" if "not in the inventory" in case else "acme"
    sig = signal_of(con, name, account)
    assert sig.raised is raised, sig.note
    if value is None:
        assert sig.raised or sig.value is None, sig.note
    else:
        assert sig.value == pytest.approx(value), sig.note
    if sig.raised:
        assert sig.strength >= 1.0 and sig.evidence, "a raised signal shows evidence"
        assert len(sig.evidence) <= CFG.evidence_cap
    con.close()


def test_volume_spike_states_its_fallback_baseline(tmp_path: Path) -> None:
    s = new_store(tmp_path / "s.duckdb")
    _history(s, 7, 5)
    s.many(60, T0 + dt.timedelta(hours=10))
    sig = signal_of(s.finish(), "volume_spike")
    assert sig.score is not None and sig.score > 3.5 and sig.n == 60
    assert "same hour of the day (7 past values; fallback: short history)" in sig.note


def make_rate(account: str, k: int, n: int, threshold: float = 0.05) -> Signal:
    return Signal(
        name="hard_bounce_rate",
        family="list_quality",
        kind="rate",
        value=k / n,
        n=n,
        k=k,
        threshold=threshold,
        min_n=100,
        weight=1.5,
        window=("a", "b"),
        interval=wilson_interval(k, n),
        p_value=binomial_sf(k, n, threshold),
    )


def test_false_discovery_control_across_accounts() -> None:
    n = 400
    k = next(k for k in range(n) if wilson_interval(k, n)[0] >= 0.05)  # just past the threshold
    alone = judge_rates([make_rate("a", k, n)], CFG)
    assert alone[0].raised and alone[0].q_value == pytest.approx(alone[0].p_value)
    crowd = judge_rates([make_rate("a", k, n)] + [make_rate(f"c{i}", 4, n) for i in range(39)], CFG)
    assert crowd[0].q_value is not None and crowd[0].q_value > CFG.fdr and not crowd[0].raised


def raised_signal(family: str, strength: float, weight: float = 1.0) -> Signal:
    return Signal(
        name=f"s_{family}",
        family=family,
        kind="count",
        value=strength,
        n=1,
        threshold=1.0,
        min_n=0,
        weight=weight,
        window=("a", "b"),
        raised=True,
        strength=strength,
    )


@pytest.mark.parametrize(
    ("signals", "severity", "action"),
    [
        ([], "none", "monitor"),
        ([raised_signal("traps", 1.0, weight=0.5)], "low", "monitor"),
        ([raised_signal("traps", 3.0, weight=3.0)], "medium", "warn"),  # score 9, one family: warn at most
        ([raised_signal("list_quality", 3.0), raised_signal("list_quality", 3.0)], "medium", "warn"),
        ([raised_signal("traps", 1.0), raised_signal("reputation", 1.0)], "medium", "warn"),
        ([raised_signal("traps", 2.0, 1.0), raised_signal("reputation", 2.0)], "high", "throttle"),
        ([raised_signal("traps", 3.0, 2.0), raised_signal("reputation", 3.0)], "critical", "suspend"),
        (
            [raised_signal("traps", 10.0, 1.0), raised_signal("identity", 10.0)],
            "high",
            "throttle",
        ),  # capped at 3
    ],
)
def test_verdict_rules(signals: list[Signal], severity: str, action: str) -> None:
    _, sev, act, _ = verdict(signals, CFG.ranking)
    assert (sev, act) == (severity, action)


def test_thresholds_file_overrides_and_rejects(tmp_path: Path) -> None:
    good = tmp_path / "t.toml"
    good.write_text("[general]\nfdr = 0.01\n[signals.trap_hits]\nthreshold = 3\n", encoding="utf-8")
    cfg = load_config(good)
    assert (
        cfg.fdr == 0.01 and cfg.signal("trap_hits").threshold == 3 and cfg.signal("trap_hits").weight == 2.0
    )
    for text, message in [
        ("[signals.trap_hitz]\nthreshold = 1\n", "unknown key signals.trap_hitz"),
        ("[general]\nconfidence = 1.5\n", "general.confidence"),
        ("[signals.trap_hits]\nmin_n = 2.5\n", "min_n must be an integer"),
        ("[ranking]\nwarn_score = 9\n", "warn_score <= throttle_score"),
        ("[general\n", "not valid TOML"),
    ]:
        good.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(message)):
            load_config(good)
    with pytest.raises(InputError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(("dim", "value"), [("recipient", "x"), ("client_ip", ""), (None, "x")])
def test_bad_scopes(dim: str | None, value: str) -> None:
    with pytest.raises(InputError):
        Scope(dim, value)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("plain <b>", "plain <b>"),
        (None, ""),
    ],
)
def test_csv_cells_are_safe(raw: str | None, safe: str) -> None:
    assert safe_cell(raw) == safe


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "abuse", *args], capture_output=True, text=True, timeout=120
    )


def test_commands_on_an_empty_store_and_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    connect(db).close()
    res = run_cli("rank", "--db", str(db), "--json")
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr
    for args, message in [
        (("rank", "--db", str(db), "--scope", "recipient=x"), "--scope expects DIM=VALUE"),
        (("rank", "--db", str(db), "--since", "2026-11-18", "--until", "2026-11-17"), "empty window"),
        (("rank", "--db", str(db), "--thresholds", str(tmp_path / "nope.toml")), "cannot read"),
        (("evidence", "acme", "--db", str(db), "--out", str(tmp_path / "e.csv")), "sent no mail"),
    ]:
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert message in res.stderr and "Traceback" not in res.stderr
    assert "--out" in run_cli("evidence", "--help").stdout


def test_hostile_account_names_are_escaped_in_the_table(tmp_path: Path) -> None:
    s = new_store(tmp_path / "h.duckdb")
    s.many(3, sasl="evil\x1b[2J\x07user")
    s.finish().close()
    res = run_cli("rank", "--db", str(tmp_path / "h.duckdb"), "--since", T0.isoformat())
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "evil\\x1b[2J\\x07user" in res.stdout


DUCKDB_ONLY = (
    r"\bGROUP\s+BY\s+ALL\b",
    r"::",
    r"\bQUALIFY\b",
    r"\bHUGEINT\b",
    r"\b(arg_max|list_\w+|strftime)\s*\(",
)


@pytest.mark.parametrize("name", abuse_queries.QUERIES)
def test_abuse_sql_is_portable(name: str) -> None:
    sql = abuse_queries.render(name, Scope("client_ip", "x"))
    for pattern in DUCKDB_ONLY:
        assert not re.search(pattern, sql, re.IGNORECASE), f"{name}.sql uses {pattern}"
    spark = sqlfiles.to_spark(sql)
    assert "SELECT" in spark.upper()


@pytest.mark.parametrize(
    ("count", "baseline", "low", "high"),
    [
        (120, [0] * 6, 4.7, 4.9),  # a night that never saw mail: 0 → 120 is a spike
        (20, [0] * 6, 2.9, 3.1),  # 0 → 20 is not (Poisson floor on the MAD)
        (28, [15, 14, 16, 15, 13, 17], 2.2, 2.5),  # a short steady history does not make 28 a spike
        (60, [5] * 7, 5.5, 5.8),
        (5, [5] * 7, 0.0, 0.0),
        (400, [20, 80, 50, 30, 70, 50, 40], 4.0, 4.4),  # MAD above the floor: the plain robust z
    ],
)
def test_spike_z(count: int, baseline: list[int], low: float, high: float) -> None:
    from analysis.abuse.signals import spike_z

    assert low <= spike_z(count, baseline) <= high
