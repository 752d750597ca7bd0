"""DNS authentication health: SPF, DKIM, DMARC, MX, PTR, MTA-STS, TLS-RPT, BIMI and blocklists."""
