"""The streaming correlator: untouched open messages are carried as they are, stale ones are written out."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.ingest import fastparse
from analysis.ingest.correlate import Correlator
from analysis.ingest.loader import classify_events
from analysis.ingest.postfix import YearState


def events(lines: list[str], first: int = 1) -> pl.DataFrame:
    res = fastparse.parse_chunk(("\n".join(lines) + "\n").encode(), first, YearState(2026))
    ev = classify_events(res.events).with_columns(pl.lit(1, dtype=pl.Int64).alias("file_id"))
    return ev.filter(pl.col("qid").is_not_null())


ORPHAN = [  # a session that broke off after cleanup rejected the message: no qmgr line, ever
    "Mar  1 10:00:00 h postfix/smtpd[1]: AAAAA1: client=a[192.0.2.1]",
    "Mar  1 10:00:01 h postfix/cleanup[2]: AAAAA1: message-id=<x@a>",
    "Mar  1 10:00:01 h postfix/cleanup[2]: AAAAA1: reject: header Subject: x from a[192.0.2.1]; from=<s@a> to=<r@b> proto=ESMTP helo=<a>: 5.7.1 no",
]
DEFERRED = [  # queued, deferred, not removed yet
    "Mar  1 10:00:00 h postfix/smtpd[1]: BBBBB1: client=a[192.0.2.1]",
    "Mar  1 10:00:01 h postfix/qmgr[3]: BBBBB1: from=<s@a>, size=10, nrcpt=1 (queue active)",
    "Mar  1 10:00:02 h postfix/smtp[4]: BBBBB1: to=<r@b>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to b[192.0.2.9]:25: Connection refused)",
]


def later(day: int, hour: int, qid: str = "CCCCC1") -> str:
    return f"Mar {day:2d} {hour:02d}:00:00 h postfix/qmgr[3]: {qid}: removed"


@pytest.mark.parametrize(
    ("then", "orphan_out", "deferred_out"),
    [
        ((1, 11), False, False),  # an hour later: both may still go on
        ((1, 13), True, False),  # three hours: the orphan can have no more lines
        ((6, 10), True, False),  # five days: a deferred message may still be retried
        ((8, 10), True, True),  # seven days: beyond Postfix's queue lifetime
    ],
)
def test_stale_open_messages_are_written_out(
    then: tuple[int, int], orphan_out: bool, deferred_out: bool
) -> None:
    corr = Correlator(pl.DataFrame())
    first = corr.step(events(ORPHAN + DEFERRED))
    assert first.messages.height == 0 and corr.carried.height == 6
    built = corr.step(events([later(*then)], first=100))
    out = set(built.messages.get_column("qid"))
    assert ("AAAAA1" in out) == orphan_out
    assert ("BBBBB1" in out) == deferred_out
    assert set(corr.carried.get_column("qid")) == {"AAAAA1", "BBBBB1"} - out
    if orphan_out:
        row = built.messages.filter(pl.col("qid") == "AAAAA1").row(0, named=True)
        assert row["cleanup_action"] == "reject" and row["removed_at"] is None and row["origin"] == "smtpd"


def test_a_touched_open_message_completes_and_untouched_ones_stay_as_they_are() -> None:
    corr = Correlator(pl.DataFrame())
    corr.step(events(DEFERRED + [line.replace("BBBBB1", "DDDDD1") for line in DEFERRED]))
    before = corr.carried.filter(pl.col("qid") == "DDDDD1")
    built = corr.step(events(["Mar  1 11:00:00 h postfix/qmgr[3]: BBBBB1: removed"], first=50))
    assert built.messages.get_column("qid").to_list() == ["BBBBB1"]
    assert built.deliveries.height == 1
    from polars.testing import assert_frame_equal

    assert_frame_equal(corr.carried.filter(pl.col("qid") == "DDDDD1"), before)
