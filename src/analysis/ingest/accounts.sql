-- Re-derive messages.account after the inventory changed: the SASL user's account, else the account that
-- verified the envelope sender's domain (the same rule correlate.sql applies to new messages).
UPDATE messages SET account = COALESCE(
    (SELECT MIN(su.account_id) FROM inventory_sasl_users su WHERE lower(su.sasl_username) = lower(messages.sasl_username)),
    (SELECT MIN(sd.account_id) FROM inventory_domains sd WHERE sd.domain = messages.sender_domain)
)
