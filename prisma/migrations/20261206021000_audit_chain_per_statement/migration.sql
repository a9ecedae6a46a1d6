-- The audit chain's lock and the previous event's hash, once per statement instead of once per
-- row. Each row used to take the chain's advisory lock again and read the last hash back from
-- the partitioned table (a merge of every month's seq index): two thirds of the chain's cost, 47 µs
-- a row against 23 µs now (45-row inserts, pgbench, one client). A batch submission writes one
-- event per job, so this was the largest single share of Postgres's time in bench:delivery.
--
-- The statement trigger takes the lock and leaves the last hash in a transaction-local setting;
-- each row chains on it and leaves its own hash there. A transaction-local setting is only set
-- by a transaction that holds the lock (both triggers take it before setting it), and a
-- subtransaction's rollback restores it. An insert straight into a month's partition skips the
-- parent's statement trigger: its rows find no setting in a fresh transaction and lock and read
-- as before. What is chained is unchanged: audit_event_material and AUDIT_CHAIN are as they were.
CREATE FUNCTION audit_events_chain_start() RETURNS trigger AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(727274);
  PERFORM set_config('tokenclear.audit_prev', COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '-'), true);
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger AS $$
DECLARE
  -- '-': the chain is empty; NULL or '': this transaction has not locked the chain yet.
  prev text := current_setting('tokenclear.audit_prev', true);
BEGIN
  IF prev IS NULL OR prev = '' THEN
    PERFORM pg_advisory_xact_lock(727274);
    prev := COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '-');
  END IF;
  -- Drawn under the lock, so seq order is chain order (the column default was drawn before it).
  NEW.seq := nextval(pg_get_serial_sequence('audit_events', 'seq'));
  NEW."prevHash" := NULLIF(prev, '-');
  NEW.hash := encode(sha256(convert_to(audit_event_material(NEW), 'UTF8')), 'hex');
  PERFORM set_config('tokenclear.audit_prev', NEW.hash, true);
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_chain_start BEFORE INSERT ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_chain_start();
