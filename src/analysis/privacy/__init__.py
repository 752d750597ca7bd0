"""Privacy and data rights: retention, subject access and erasure, pseudonymised reports, audit log.

Recipient and sender addresses, SASL usernames, client IPs and raw log lines are personal data; this
package is where the workbench keeps its promises about them (issue 8).
"""
