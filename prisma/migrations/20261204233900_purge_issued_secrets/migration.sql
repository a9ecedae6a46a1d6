-- Secrets are shown once (SPEC §6.2): idempotency records kept the whole response of requests
-- that issued API keys (tck_), node tokens (tcn_) and webhook secrets (whsec_). From now on those
-- requests store a 409 SECRET_ALREADY_ISSUED instead; the copies already kept are deleted.
DELETE FROM "idempotency_records" WHERE "responseBody" ~ '(tck_|tcn_|whsec_)[A-Za-z0-9_-]{16,}';
