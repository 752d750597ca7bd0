"""Every rate the metrics layer reports, its denominator, and the published thresholds it is judged by.

One structure holds them so the CLI, the reports and DEFINITIONS.md agree. A threshold is breached only
when the Wilson LOWER bound reaches it: a raw 1-in-3 is not evidence of a 33 % bounce rate.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateDefinition:
    """rate = numerator ÷ denominator, both count columns of the rates() frame."""

    name: str
    numerator: str
    denominator: str
    meaning: str


@dataclass(frozen=True)
class Threshold:
    """A published limit on one rate; `action` says what the publisher does when it is crossed."""

    rate: str
    level: float
    action: str
    source: str

    @property
    def label(self) -> str:
        """The flag text, e.g. 'hard_bounce_rate>=5% (review)'."""
        return f"{self.rate}>={self.level * 100:g}% ({self.action})"


RATE_DEFINITIONS: tuple[RateDefinition, ...] = (
    RateDefinition("delivery_rate", "delivered", "attempted", "recipients whose last attempt was sent"),
    RateDefinition("hard_bounce_rate", "hard_bounced", "attempted", "recipients bounced permanently (SES)"),
    RateDefinition(
        "soft_bounce_rate", "soft_bounced", "attempted", "recipients bounced, not known permanent"
    ),
    RateDefinition("deferral_rate", "deferred", "attempted", "recipients deferred at least once"),
    RateDefinition("expired_rate", "expired", "attempted", "recipients given up after the queue lifetime"),
    RateDefinition("rejection_rate", "rejected", "submitted", "refusals among attempted + refused"),
    RateDefinition("complaint_rate", "complained", "delivered", "delivered recipients who complained"),
)
RATES: tuple[str, ...] = tuple(d.name for d in RATE_DEFINITIONS)

THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("hard_bounce_rate", 0.05, "review", "Amazon SES account review"),
    Threshold("hard_bounce_rate", 0.10, "pause", "Amazon SES sending pause"),
    Threshold("complaint_rate", 0.001, "review", "Amazon SES review; Gmail/Yahoo target"),
    Threshold("complaint_rate", 0.003, "gmail limit", "Gmail/Yahoo bulk-sender maximum"),
    Threshold("complaint_rate", 0.005, "pause", "Amazon SES sending pause"),
)

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_VOLUME = 100
