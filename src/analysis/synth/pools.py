"""Static vocabulary of the synthetic Postfix log: mailbox providers, their MX hosts and their replies.

The reply wording follows what the providers really answer (Gmail's multi-line 550-5.1.1, Yahoo's
[TSS04], Microsoft's S3150 and 5.7.515, Spamhaus listings), so that bounce classification and provider
detection downstream meet the shapes they will meet in production. Templates use str.format fields:
{r} recipient, {ip} our relay IP, {h}/{hip} the remote MX host and IP, {d} sender domain, {mid} the
Message-ID without brackets, {rd} the recipient's domain, {tok} a random token, {n} a number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# --- reply templates per provider kind -----------------------------------------------------------

GMAIL_SENT = "250 2.0.0 OK  {n} {tok}si{n2}.{n3} - gsmtp"
GMAIL_UNKNOWN = (
    "host {h}[{hip}] said: 550-5.1.1 The email account that you tried to reach does not exist. "
    "Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
    "unnecessary spaces. For more information, go to 550 5.1.1  "
    "https://support.google.com/mail/?p=NoSuchUser {tok}si{n2}.{n3} - gsmtp (in reply to RCPT TO command)"
)
GMAIL_BLOCKS = (
    (
        "5.7.26",
        "host {h}[{hip}] said: 550-5.7.26 This mail has been blocked because the sender is "
        "unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. "
        "550-5.7.26  550-5.7.26  Authentication results: 550-5.7.26  DKIM = did not pass 550-5.7.26  "
        "SPF [{d}] with ip: [{ip}] = did not pass 550-5.7.26  550-5.7.26  For instructions on setting up "
        "authentication, go to 550 5.7.26  https://support.google.com/mail/answer/81126#authentication "
        "{tok}si{n2}.{n3} - gsmtp (in reply to end of DATA command)",
    ),
    (
        "5.7.1",
        "host {h}[{hip}] said: 550-5.7.1 [{ip}      12] Gmail has detected that this message is "
        "likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been "
        "blocked. For more information, go to 550 5.7.1  "
        "https://support.google.com/mail/?p=UnsolicitedMessageError {tok}si{n2}.{n3} - gsmtp "
        "(in reply to end of DATA command)",
    ),
)
GMAIL_DEFERS = (
    (
        "4.7.28",
        "host {h}[{hip}] said: 421-4.7.28 [{ip}      15] Our system has detected an unusual rate of "
        "421-4.7.28 unsolicited mail originating from your IP address. To protect our 421-4.7.28 users "
        "from spam, mail sent from your IP address has been temporarily 421-4.7.28 rate limited. For more "
        "information, go to 421 4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError "
        "{tok}si{n2}.{n3} - gsmtp (in reply to end of DATA command)",
    ),
    (
        "4.2.2",
        "host {h}[{hip}] said: 452-4.2.2 The recipient's inbox is out of storage space. Please direct "
        "452-4.2.2 the recipient to 452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp "
        "{tok}si{n2}.{n3} - gsmtp (in reply to RCPT TO command)",
    ),
)

MS_SENT = (
    "250 2.6.0 <{mid}> [InternalId={n}{n2}, Hostname={tok}.eurprd0{n3}.prod.outlook.com] "
    "{n2} bytes in 0.{n3}, 95.{n3} KB/sec Queued mail for delivery -> 250 2.1.5"
)
MS_UNKNOWN = (
    "host {h}[{hip}] said: 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
    "[{tok}.eurprd0{n3}.prod.outlook.com] (in reply to RCPT TO command)"
)
M365_UNKNOWN = (
    "host {h}[{hip}] said: 550 5.4.1 Recipient address rejected: Access denied. "
    "For more information see https://aka.ms/EXOSmtpErrors [{tok}.namprd0{n3}.prod.outlook.com "
    "2026-11-22T04:50:57.000Z 0{n}] (in reply to RCPT TO command)"
)
MS_BLOCKS = (
    (
        "5.7.1",
        "host {h}[{hip}] said: 550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please "
        "contact your Internet service provider since part of their network is on our block list "
        "(S3150). You can also refer your provider to "
        "http://mail.live.com/mail/troubleshooting.aspx#errors. [{tok}.eurprd0{n3}.prod.outlook.com "
        "2026-11-22T04:50:57.000Z 0{n}] (in reply to MAIL FROM command)",
    ),
    (
        "5.7.515",
        "host {h}[{hip}] said: 550 5.7.515 Access denied, sending domain [{d}] does not meet the "
        "required authentication level. The sender's domain in the 5322.From address doesn't meet the "
        "authentication requirements defined for the sender. To learn more, visit "
        "https://go.microsoft.com/fwlink/?LinkId=2270036 [{tok}.eurprd0{n3}.prod.outlook.com] "
        "(in reply to end of DATA command)",
    ),
)
MS_DEFERS = (
    (
        "4.7.500",
        "host {h}[{hip}] said: 451 4.7.500 Server busy. Please try again later from [{ip}]. (S77719) "
        "[{tok}.eurprd0{n3}.prod.outlook.com] (in reply to RCPT TO command)",
    ),
    (
        "4.7.650",
        "host {h}[{hip}] said: 451 4.7.650 The mail server [{ip}] has been temporarily rate limited due "
        "to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) "
        "[{tok}.eurprd0{n3}.prod.outlook.com] (in reply to MAIL FROM command)",
    ),
)

YAHOO_SENT = "250 ok dirdel"
YAHOO_UNKNOWN = (
    "host {h}[{hip}] said: 554 delivery error: dd This user doesn't have a {rd} account ({r}) "
    "[0] - mta{n3}.mail.gq1.yahoo.com (in reply to end of DATA command)"
)
AOL_UNKNOWN = (
    "host {h}[{hip}] said: 554 delivery error: dd Not a valid recipient - "
    "atlas{n3}.aol.mail.ne1.yahoo.com (in reply to end of DATA command)"
)
YAHOO_BLOCKS = (
    (
        "5.7.9",
        "host {h}[{hip}] said: 554 5.7.9 Message not accepted for policy reasons.  See "
        "https://postmaster.yahooinc.com/error-codes (in reply to end of DATA command)",
    ),
)
YAHOO_DEFERS = (
    (
        "4.7.0",
        "host {h}[{hip}] said: 421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to "
        "unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes "
        "(in reply to MAIL FROM command)",
    ),
    (
        "4.2.2",
        "host {h}[{hip}] said: 452 4.2.2 Mailbox full: {r} (in reply to RCPT TO command)",
    ),
)

APPLE_SENT = "250 2.0.0 Ok: queued as {tok}"
APPLE_UNKNOWN = "host {h}[{hip}] said: 550 5.1.1 <{r}>: user does not exist (in reply to RCPT TO command)"
APPLE_BLOCKS = (
    (
        "5.7.1",
        "host {h}[{hip}] said: 554 5.7.1 [CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137 (in reply to end of DATA command)",
    ),
)

GMX_SENT = "250 Requested mail action okay, completed: id=1M{tok}"
GMX_UNKNOWN = (
    "host {h}[{hip}] said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)"
)
GMX_BLOCKS = (
    (
        "5.7.1",
        "host {h}[{hip}] said: 554-{h} 554 Transaction failed Reject due to policy restrictions. For "
        "explanation visit https://postmaster.gmx.net/en/case?c=r0{n3}&i=ip&v={ip}&r=1M{tok} "
        "(in reply to MAIL FROM command)",
    ),
)

ORANGE_SENT = "250 2.0.0 {tok} mail accepted for delivery"
ORANGE_UNKNOWN = (
    "host {h}[{hip}] said: 550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. "
    "OFR_416 [416] (in reply to RCPT TO command)"
)
ORANGE_DEFERS = (
    (
        "4.7.0",
        "host {h}[{hip}] said: 421 4.7.0 Service refuse. Veuillez essayer plus tard. Service refused, "
        "please try later. OFR_999 [999] (in reply to MAIL FROM command)",
    ),
)

MAILRU_SENT = "250 OK id=1r{tok}"
MAILRU_UNKNOWN = (
    "host {h}[{hip}] said: 550 Message was not accepted -- invalid mailbox.  Local mailbox {r} is "
    "unavailable: user not found (in reply to end of DATA command)"
)

COMCAST_SENT = "250 2.0.0 {tok} mail accepted for delivery"
COMCAST_UNKNOWN = (
    "host {h}[{hip}] said: 550 5.1.1 <{r}> recipient does not exist (in reply to RCPT TO command)"
)

POSTFIX_SENT = "250 2.0.0 Ok: queued as {tok}"
POSTFIX_UNKNOWN = (
    "host {h}[{hip}] said: 550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox "
    "table (in reply to RCPT TO command)"
)
POSTFIX_BLOCKS = (
    (
        "5.7.1",
        "host {h}[{hip}] said: 554 5.7.1 Service unavailable; Client host [{ip}] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip} (in reply to RCPT TO command)",
    ),
)
POSTFIX_DEFERS = (
    (
        "4.7.1",
        "host {h}[{hip}] said: 450 4.7.1 <{r}>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/{rd}.html (in reply to RCPT TO command)",
    ),
    (
        "4.2.2",
        "host {h}[{hip}] said: 452 4.2.2 <{r}>: Recipient address rejected: Mailbox full "
        "(in reply to RCPT TO command)",
    ),
)

# Deferrals that have nothing to do with the provider's policy: the network.
TIMEOUT_DEFER = ("4.4.1", "connect to {h}[{hip}]:25: Connection timed out")
REFUSED_DEFER = ("4.4.1", "connect to {h}[{hip}]:25: Connection refused")
LOST_DEFER = ("4.4.2", "lost connection with {h}[{hip}] while receiving the initial server greeting")


@dataclass(frozen=True)
class ReplyBook:
    """What one kind of receiving system answers: accepted, unknown user, blocks, temporary failures."""

    sent: str
    unknown: str
    blocks: tuple[tuple[str, str], ...]
    defers: tuple[tuple[str, str], ...]


BOOKS: dict[str, ReplyBook] = {
    "gmail": ReplyBook(GMAIL_SENT, GMAIL_UNKNOWN, GMAIL_BLOCKS, GMAIL_DEFERS),
    "microsoft": ReplyBook(MS_SENT, MS_UNKNOWN, MS_BLOCKS, MS_DEFERS),
    "m365": ReplyBook(MS_SENT, M365_UNKNOWN, MS_BLOCKS, MS_DEFERS),
    "yahoo": ReplyBook(YAHOO_SENT, YAHOO_UNKNOWN, YAHOO_BLOCKS, YAHOO_DEFERS),
    "aol": ReplyBook(YAHOO_SENT, AOL_UNKNOWN, YAHOO_BLOCKS, YAHOO_DEFERS),
    "apple": ReplyBook(APPLE_SENT, APPLE_UNKNOWN, APPLE_BLOCKS, POSTFIX_DEFERS[1:]),
    "gmx": ReplyBook(GMX_SENT, GMX_UNKNOWN, GMX_BLOCKS, POSTFIX_DEFERS[1:]),
    "orange": ReplyBook(ORANGE_SENT, ORANGE_UNKNOWN, POSTFIX_BLOCKS, ORANGE_DEFERS),
    "mailru": ReplyBook(MAILRU_SENT, MAILRU_UNKNOWN, POSTFIX_BLOCKS, POSTFIX_DEFERS[1:]),
    "comcast": ReplyBook(COMCAST_SENT, COMCAST_UNKNOWN, POSTFIX_BLOCKS, POSTFIX_DEFERS[1:]),
    "postfix": ReplyBook(POSTFIX_SENT, POSTFIX_UNKNOWN, POSTFIX_BLOCKS, POSTFIX_DEFERS),
}
# Google Workspace answers like Gmail.
BOOKS["workspace"] = BOOKS["gmail"]

# --- mailbox providers and their MX hosts ----------------------------------------------------------

GOOGLE_MX = (
    ("gmail-smtp-in.l.google.com", "142.250.{}.{}"),
    ("alt1.gmail-smtp-in.l.google.com", "142.251.{}.{}"),
    ("alt2.gmail-smtp-in.l.google.com", "142.250.{}.{}"),
)
WORKSPACE_MX = (("aspmx.l.google.com", "142.250.{}.{}"), ("alt1.aspmx.l.google.com", "74.125.{}.{}"))

# (domain, weight, book, MX hosts with IP patterns)
CONSUMER: tuple[tuple[str, float, str, tuple[tuple[str, str], ...]], ...] = (
    ("gmail.com", 30.0, "gmail", GOOGLE_MX),
    ("googlemail.com", 0.6, "gmail", GOOGLE_MX),
    ("outlook.com", 5.0, "microsoft", (("outlook-com.olc.protection.outlook.com", "52.101.{}.{}"),)),
    ("hotmail.com", 6.0, "microsoft", (("hotmail-com.olc.protection.outlook.com", "52.101.{}.{}"),)),
    ("live.com", 1.5, "microsoft", (("live-com.olc.protection.outlook.com", "52.101.{}.{}"),)),
    ("msn.com", 0.5, "microsoft", (("msn-com.olc.protection.outlook.com", "52.101.{}.{}"),)),
    (
        "yahoo.com",
        8.0,
        "yahoo",
        (("mta5.am0.yahoodns.net", "67.195.{}.{}"), ("mta7.am0.yahoodns.net", "98.136.{}.{}")),
    ),
    ("ymail.com", 0.4, "yahoo", (("mta6.am0.yahoodns.net", "67.195.{}.{}"),)),
    ("aol.com", 2.5, "aol", (("mx-aol.mail.gm0.yahoodns.net", "67.195.{}.{}"),)),
    (
        "icloud.com",
        4.0,
        "apple",
        (("mx01.mail.icloud.com", "17.57.{}.{}"), ("mx02.mail.icloud.com", "17.42.{}.{}")),
    ),
    ("me.com", 0.8, "apple", (("mx01.mail.icloud.com", "17.57.{}.{}"),)),
    ("gmx.de", 2.5, "gmx", (("mx00.emig.gmx.net", "212.227.{}.{}"), ("mx01.emig.gmx.net", "212.227.{}.{}"))),
    ("gmx.net", 1.0, "gmx", (("mx00.emig.gmx.net", "212.227.{}.{}"),)),
    ("web.de", 2.5, "gmx", (("mx-ha02.web.de", "212.227.{}.{}"), ("mx-ha03.web.de", "212.227.{}.{}"))),
    ("orange.fr", 2.0, "orange", (("smtp-in.orange.fr", "193.252.{}.{}"),)),
    ("wanadoo.fr", 0.5, "orange", (("smtp-in.orange.fr", "193.252.{}.{}"),)),
    ("mail.ru", 1.5, "mailru", (("mxs.mail.ru", "94.100.{}.{}"),)),
    (
        "comcast.net",
        1.5,
        "comcast",
        (("mx1a1.comcast.net", "96.114.{}.{}"), ("mx2c1.comcast.net", "96.102.{}.{}")),
    ),
)
BUSINESS_SHARE = 22.0  # weight of all business domains together, against the consumer weights above

WORDS = (
    "acme",
    "nordic",
    "blue",
    "river",
    "summit",
    "pixel",
    "harbor",
    "oak",
    "granite",
    "vertex",
    "lumen",
    "atlas",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "gala",
    "helix",
    "iris",
    "juniper",
    "kite",
    "lotus",
    "maple",
    "nova",
    "orbit",
    "pine",
    "quartz",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "vivid",
    "willow",
    "xenon",
    "yonder",
    "zephyr",
    "alpine",
    "beacon",
    "copper",
    "dune",
    "echo",
    "falcon",
    "grove",
    "haven",
)
SUFFIXES = ("", "tech", "labs", "group", "media", "shop", "consulting", "logistics", "health", "foods")
TLDS = ("com", "com", "com", "de", "fr", "co.uk", "nl", "io", "net", "es", "it", "ch")
FIRST = (
    "anna",
    "ben",
    "carla",
    "david",
    "emma",
    "felix",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "karin",
    "leo",
    "maria",
    "nils",
    "olga",
    "paul",
    "rosa",
    "sam",
    "tara",
    "uwe",
    "vera",
    "will",
    "xavier",
    "yara",
    "zoe",
    "alex",
    "chris",
    "julia",
    "laura",
    "marc",
    "nina",
    "oscar",
    "pia",
    "robin",
    "sofia",
    "tom",
    "lena",
    "max",
    "ella",
    "finn",
    "mia",
    "noah",
    "lucas",
    "chloe",
    "ivan",
    "olivia",
    "james",
    "amir",
)
LAST = (
    "smith",
    "mueller",
    "martin",
    "garcia",
    "rossi",
    "novak",
    "jensen",
    "dubois",
    "weber",
    "schmidt",
    "bernard",
    "lopez",
    "silva",
    "ivanov",
    "kowalski",
    "nielsen",
    "fischer",
    "meyer",
    "wagner",
    "becker",
    "hoffmann",
    "moreau",
    "laurent",
    "petit",
    "fontaine",
    "bianchi",
    "romano",
    "costa",
    "sousa",
    "horvat",
    "berg",
    "lind",
    "brown",
    "taylor",
    "wilson",
    "evans",
    "thomas",
    "roberts",
    "walker",
    "wright",
)
ROLE_LOCALS = ("info", "sales", "support", "office", "contact", "billing", "hr", "admin", "team")
SENDER_LOCALS = ("noreply", "newsletter", "info", "billing", "notifications", "no-reply", "hello", "orders")
TYPO_DOMAINS = ("gmial.com", "gmal.com", "hotmial.com", "yaho.com", "outlok.com", "gmail.con", "icloud.co")


@dataclass
class Domain:
    """A recipient domain: where it is hosted decides its MX hosts and how it answers."""

    name: str
    book: ReplyBook
    relays: list[tuple[str, str]] = field(default_factory=list)  # (host, ip)


def _ip(rng: random.Random, pattern: str) -> str:
    return pattern.format(rng.randrange(1, 255), rng.randrange(1, 255))


def build_domains(rng: random.Random, n_business: int) -> tuple[list[Domain], list[float]]:
    """Consumer providers plus n_business company domains hosted at Microsoft, Google or on their own MX."""
    domains: list[Domain] = []
    weights: list[float] = []
    for name, weight, book_name, mx in CONSUMER:
        relays = [(host, _ip(rng, pat)) for host, pat in mx for _ in range(2)]
        domains.append(Domain(name, BOOKS[book_name], relays))
        weights.append(weight)
    seen = {d.name for d in domains}
    biz_weights = [1.0 / (k + 1) ** 0.8 for k in range(n_business)]
    scale = BUSINESS_SHARE / sum(biz_weights) if biz_weights else 0.0
    k = 0
    while k < n_business:
        name = f"{rng.choice(WORDS)}{rng.choice(SUFFIXES)}.{rng.choice(TLDS)}"
        if name in seen:
            name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}.{rng.choice(TLDS)}"
            if name in seen:
                continue
        seen.add(name)
        host_kind = rng.random()
        if host_kind < 0.45:
            mx_host = name.replace(".", "-") + ".mail.protection.outlook.com"
            relays = [(mx_host, _ip(rng, "52.101.{}.{}")), (mx_host, _ip(rng, "52.101.{}.{}"))]
            book = BOOKS["m365"]
        elif host_kind < 0.72:
            relays = [(host, _ip(rng, pat)) for host, pat in WORKSPACE_MX]
            book = BOOKS["workspace"]
        else:
            relays = [(f"mx{j}.{name}", f"198.51.100.{rng.randrange(2, 250)}") for j in (1, 2)]
            book = BOOKS["postfix"]
        domains.append(Domain(name, book, relays))
        weights.append(biz_weights[k] * scale)
        k += 1
    return domains, weights
