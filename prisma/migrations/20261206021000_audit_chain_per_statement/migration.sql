-- The audit chain's lock and the previous event's hash, once per statement instead of once per
-- row. Each row used to take the chain's advisory lock again and read the last hash back from
-- the partitioned table (a merge of every month's seq index): two thirds of the chain's cost, 47 µs
-- a row against 23 µs now (45-row inserts, pgbench, one client). A batch submission writes one
-- event per job, so this was the largest single share of Postgres's time in bench:delivery.
--
-- The statement trigger takes the lock and leaves the last hash in a transaction-local setting,
-- tagged with the transaction's id; each row chains on it and leaves its own hash there. A
-- subtransaction's rollback restores the setting. A value without this transaction's tag (a
-- session-level SET, or none at all) is not trusted: the row takes the lock and reads the head
-- itself, as an insert straight into a month's partition (which skips the parent's statement
-- trigger) does. What is chained is unchanged: audit_event_material and AUDIT_CHAIN are as they were.

-- The chain's head for the calling transaction: takes the chain's lock (held to commit), then
-- reads the last event's hash ('-' for an empty chain).
CREATE FUNCTION audit_chain_head() RETURNS text AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(727274);
  RETURN COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '-');
END $$ LANGUAGE plpgsql;

CREATE FUNCTION audit_events_chain_start() RETURNS trigger AS $$
BEGIN
  PERFORM set_config('tokenclear.audit_prev', txid_current() || '/' || audit_chain_head(), true);
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger AS $$
DECLARE
  tx text := txid_current()::text;
  -- '<txid>/<hash>' as this transaction left it, else not ours.
  held text := current_setting('tokenclear.audit_prev', true);
  prev text := CASE WHEN split_part(held, '/', 1) = tx THEN split_part(held, '/', 2) ELSE audit_chain_head() END;
BEGIN
  -- Drawn under the lock, so seq order is chain order (the column default was drawn before it).
  NEW.seq := nextval(pg_get_serial_sequence('audit_events', 'seq'));
  NEW."prevHash" := NULLIF(prev, '-');
  NEW.hash := encode(sha256(convert_to(audit_event_material(NEW), 'UTF8')), 'hex');
  PERFORM set_config('tokenclear.audit_prev', tx || '/' || NEW.hash, true);
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_chain_start BEFORE INSERT ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_chain_start();
