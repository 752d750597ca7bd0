-- ESP messages have no SASL user: their account is the one that verified the sender's domain.
UPDATE messages SET account = (
    SELECT MIN(sd.account_id) FROM inventory_domains sd WHERE sd.domain = messages.sender_domain
)
WHERE account IS NULL AND host IN ('ses', 'sendgrid', 'mailgun', 'postmark')
