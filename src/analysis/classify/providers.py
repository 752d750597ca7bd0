"""Mailbox provider of a recipient: from its domain, else from the MX/relay host that took the mail.

The table (`providers.tsv`) is data; lookups walk the name's parent domains label by label, so
`mx4.hotmail.com` and `acme-com.mail.protection.outlook.com` match their suffix rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import polars as pl

OTHER = "other"
_APPLIES = ("domain", "mx", "both")


@dataclass(frozen=True)
class ProviderTable:
    """Suffix → provider maps for recipient domains and for MX/relay host names."""

    domains: dict[str, str]
    hosts: dict[str, str]

    @property
    def providers(self) -> frozenset[str]:
        """Every provider name in the table (plus `other`)."""
        return frozenset(self.domains.values()) | frozenset(self.hosts.values()) | {OTHER}


def parse_provider_table(text: str) -> ProviderTable:
    """Parse the TSV (comment lines start with #, first data line is the header)."""
    domains: dict[str, str] = {}
    hosts: dict[str, str] = {}
    header_seen = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            if fields != ["suffix", "provider", "applies"]:
                raise ValueError(f"providers.tsv line {n}: expected header suffix/provider/applies")
            header_seen = True
            continue
        if len(fields) != 3 or fields[2] not in _APPLIES:
            raise ValueError(f"providers.tsv line {n}: bad row {raw!r}")
        suffix, provider, applies = fields[0].lower().strip("."), fields[1], fields[2]
        if applies in ("domain", "both"):
            domains[suffix] = provider
        if applies in ("mx", "both"):
            hosts[suffix] = provider
    return ProviderTable(domains, hosts)


@lru_cache(maxsize=1)
def provider_table() -> ProviderTable:
    """The packaged table, loaded once."""
    text = resources.files("analysis.classify").joinpath("providers.tsv").read_text(encoding="utf-8")
    return parse_provider_table(text)


def _lookup(name: str, table: dict[str, str]) -> str | None:
    labels = name.lower().strip().strip(".").split(".")
    for i in range(len(labels) - 1):
        hit = table.get(".".join(labels[i:]))
        if hit is not None:
            return hit
    return None


@lru_cache(maxsize=200_000)
def provider_for(recipient_domain: str | None, relay_host: str | None = None) -> str | None:
    """Provider name, `other` when the names are known but unlisted, None when both are missing."""
    table = provider_table()
    if recipient_domain:
        hit = _lookup(recipient_domain, table.domains)
        if hit is not None:
            return hit
    if relay_host:
        hit = _lookup(relay_host, table.hosts)
        if hit is not None:
            return hit
    if recipient_domain or relay_host:
        return OTHER
    return None


def _mapped(names: pl.Series, table: dict[str, str]) -> pl.Series:
    """Suffix lookup per distinct name, mapped back onto every row.

    Casting to Categorical hashes the strings once; the join back is then on integer codes.
    """
    codes = names.cast(pl.Categorical)
    distinct = codes.unique().drop_nulls()
    mapping = pl.DataFrame(
        {
            "code": distinct.to_physical(),
            "provider": pl.Series(
                [_lookup(n, table) for n in distinct.cast(pl.String).to_list()], dtype=pl.String
            ),
        }
    )
    rows = pl.DataFrame({"code": codes.to_physical()})
    return rows.join(mapping, on="code", how="left", maintain_order="left")["provider"]


def provider_series(domains: pl.Series, relay_hosts: pl.Series) -> pl.Series:
    """`provider_for` per row, vectorised: each distinct domain and host is looked up once."""
    domains = domains.cast(pl.String)
    relay_hosts = relay_hosts.cast(pl.String)
    domains = pl.select(pl.when(domains != "").then(domains)).to_series()
    relay_hosts = pl.select(pl.when(relay_hosts != "").then(relay_hosts)).to_series()
    table = provider_table()
    frame = pl.DataFrame(
        {
            "d": _mapped(domains, table.domains),
            "h": _mapped(relay_hosts, table.hosts),
            "known": domains.is_not_null() | relay_hosts.is_not_null(),
        }
    )
    return frame.select(
        pl.coalesce("d", "h", pl.when("known").then(pl.lit(OTHER))).alias("provider")
    ).to_series()


def provider_frame(domains: pl.Series | pl.DataFrame, relay_hosts: pl.Series | None = None) -> pl.DataFrame:
    """Provider per row for a Series of domains (or a frame with recipient_domain[, relay_host])."""
    if isinstance(domains, pl.DataFrame):
        frame = domains.select(
            pl.col("recipient_domain").cast(pl.String),
            (pl.col("relay_host") if "relay_host" in domains.columns else pl.lit(None))
            .cast(pl.String)
            .alias("relay_host"),
        )
    else:
        hosts = relay_hosts if relay_hosts is not None else pl.Series([None] * len(domains), dtype=pl.String)
        frame = pl.DataFrame(
            {"recipient_domain": domains.cast(pl.String), "relay_host": hosts.cast(pl.String)}
        )
    return frame.with_columns(provider=provider_series(frame["recipient_domain"], frame["relay_host"]))
