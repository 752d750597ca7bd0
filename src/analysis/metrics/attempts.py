"""DuckDB: the `attempts` fragment without its messages join when no message column is asked for.

attempts.sql joins every delivery attempt to its message for the message-level dimensions (account,
SASL user, sender domain, client). Latency, volume and reply counts grouped and filtered only by
attempt-level columns never read them, but DuckDB still builds the join (0.5-0.9 s of a 10M-line store's
1.7M attempts, per query). With no message column in the grouping or the filter, the join is swapped
for one against an empty copy of messages: the same rows, message columns null and unread.

Only where that cannot change a count: on read-only connections (the data stays put) whose messages
have unique keys (true by construction, but a duplicate would make the LEFT JOIN repeat attempts: the
last refresh records the check, else it runs once per connection).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from analysis.metrics import sqlfiles
from analysis.metrics.cache import unique_message_keys
from analysis.metrics.filters import Filters

# Dimensions attempts.sql takes from the messages table.
MESSAGE_DIMENSIONS = frozenset({"account", "sasl_username", "sender_domain", "client_ip"})
_JOIN = "LEFT JOIN messages m ON m.message_key = d.message_key"
_NO_JOIN = "LEFT JOIN (SELECT * FROM messages WHERE 1 = 0) m ON m.message_key = d.message_key"


def attempts_slot(
    con: duckdb.DuckDBPyConnection, by: Sequence[str], filters: Filters | None
) -> dict[str, str]:
    """{"attempts": the join-free fragment} when safe and useful, else {} (the fragment as written)."""
    used = set(by) | (filters.dimensions() if filters else frozenset())
    if used & MESSAGE_DIMENSIONS or not sqlfiles.read_only(con) or not unique_message_keys(con):
        return {}
    text = sqlfiles.render("attempts")
    if _JOIN not in text:
        raise AssertionError("attempts.sql no longer joins messages as expected")
    return {"attempts": text.replace(_JOIN, _NO_JOIN, 1)}
