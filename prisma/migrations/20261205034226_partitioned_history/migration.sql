-- CreateEnum
CREATE TYPE "ArchivedTotalScope" AS ENUM ('ACCOUNT_NET_FEN', 'OBLIGATION_HELD_FEN', 'OBLIGATION_CREDITED_TOKENS');

-- CreateTable
CREATE TABLE "transfer_keys" (
    "idempotencyKey" VARCHAR(300) NOT NULL,
    "transferId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "transfer_keys_pkey" PRIMARY KEY ("idempotencyKey")
);

-- CreateTable
CREATE TABLE "usage_keys" (
    "jobId" UUID NOT NULL,
    "usageId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "usage_keys_pkey" PRIMARY KEY ("jobId")
);

-- CreateTable
CREATE TABLE "archived_months" (
    "month" DATE NOT NULL,
    "archivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "transferRows" BIGINT NOT NULL,
    "transferAmountFen" BIGINT NOT NULL,
    "usageRows" BIGINT NOT NULL,
    "auditRows" BIGINT NOT NULL,
    "auditFirstPrevHash" VARCHAR(64),
    "auditLastHash" VARCHAR(64),

    CONSTRAINT "archived_months_pkey" PRIMARY KEY ("month")
);

-- CreateTable
CREATE TABLE "archived_totals" (
    "month" DATE NOT NULL,
    "scope" "ArchivedTotalScope" NOT NULL,
    "key" UUID NOT NULL,
    "amount" BIGINT NOT NULL,

    CONSTRAINT "archived_totals_pkey" PRIMARY KEY ("month","scope","key")
);

-- AddForeignKey
ALTER TABLE "archived_totals" ADD CONSTRAINT "archived_totals_month_fkey" FOREIGN KEY ("month") REFERENCES "archived_months"("month") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- Hand-written: transfers, usage_records and audit_events partitioned by month of "createdAt"
-- (docs/scale.md, "Partitioning"). A unique index on a partitioned table must contain the
-- partition key, so global uniqueness of transfers."idempotencyKey" and usage_records."jobId"
-- moves to transfer_keys / usage_keys above; the primary keys become (id or seq, "createdAt").
-- Nothing references these tables' primary keys (no foreign key points at them), so no foreign
-- key has to be dropped or replaced.

CREATE SCHEMA IF NOT EXISTS archive;

CREATE FUNCTION month_partition_name(parent text, month date) RETURNS text AS $$
  SELECT parent || '_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM')
$$ LANGUAGE sql IMMUTABLE;

-- Statement triggers are not cloned to partitions: each partition gets the parent's TRUNCATE refusal.
CREATE FUNCTION refuse_truncate_function(parent text) RETURNS text AS $$
  SELECT CASE parent WHEN 'transfers' THEN 'transfers_refuse_change' WHEN 'audit_events' THEN 'audit_events_refuse_change' END
$$ LANGUAGE sql IMMUTABLE;

-- Creates the monthly partitions (UTC months) of the three tables from `from_month` through
-- `to_month`; those that exist, or whose month was archived, are left alone. Returns how many it
-- created. The partitions-ahead job calls it daily; it runs under a short lock_timeout there,
-- because creating a partition locks the parent (and scans the DEFAULT partition, empty when the
-- job keeps ahead).
CREATE FUNCTION create_month_partitions(from_month date, to_month date) RETURNS int AS $$
DECLARE
  parent text;
  m date;
  name text;
  created int := 0;
BEGIN
  FOREACH parent IN ARRAY ARRAY['transfers', 'usage_records', 'audit_events'] LOOP
    m := date_trunc('month', from_month)::date;
    WHILE m <= to_month LOOP
      name := month_partition_name(parent, m);
      IF to_regclass(format('public.%I', name)) IS NULL AND NOT EXISTS (SELECT 1 FROM archived_months a WHERE a.month = m) THEN
        EXECUTE format('CREATE TABLE IF NOT EXISTS public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
          name, parent, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        IF refuse_truncate_function(parent) IS NOT NULL THEN
          EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION %I()',
            parent || '_no_truncate', name, refuse_truncate_function(parent));
        END IF;
        created := created + 1;
      END IF;
      m := (m + interval '1 month')::date;
    END LOOP;
  END LOOP;
  RETURN created;
END $$ LANGUAGE plpgsql;

-- The global keys, whoever inserts, checked once per statement over the rows it inserted (a
-- transition table: set-based, where a row trigger costs a PL/pgSQL call and a lookup per row —
-- bench:ledger posts 50,000 transfers a statement). The ledger claims its keys in transfer_keys
-- first (its ON CONFLICT replay), so they are found with this row's id; any other writer (a
-- bench seed, a script, usage_records' inserts) gets its keys written here; a key another row
-- holds fails the statement with unique_violation, as the unique index did.
CREATE FUNCTION transfers_claim_keys() RETURNS trigger AS $$
DECLARE
  taken text;
BEGIN
  INSERT INTO transfer_keys ("idempotencyKey", "transferId", "createdAt")
  SELECT n."idempotencyKey", n.id, n."createdAt" FROM new_rows n
  ON CONFLICT ("idempotencyKey") DO NOTHING;
  SELECT n."idempotencyKey" INTO taken FROM new_rows n
    JOIN transfer_keys k ON k."idempotencyKey" = n."idempotencyKey" AND k."transferId" <> n.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'duplicate key value violates unique constraint "transfer_keys_pkey"' USING ERRCODE = 'unique_violation',
      DETAIL = format('Key ("idempotencyKey")=(%s) already exists.', taken);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION usage_records_claim_keys() RETURNS trigger AS $$
DECLARE
  taken uuid;
BEGIN
  INSERT INTO usage_keys ("jobId", "usageId", "createdAt")
  SELECT n."jobId", n.id, n."createdAt" FROM new_rows n
  ON CONFLICT ("jobId") DO NOTHING;
  SELECT n."jobId" INTO taken FROM new_rows n
    JOIN usage_keys k ON k."jobId" = n."jobId" AND k."usageId" <> n.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'duplicate key value violates unique constraint "usage_keys_pkey"' USING ERRCODE = 'unique_violation',
      DETAIL = format('Key ("jobId")=(%s) already exists.', taken);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Move each table: rename the old one (its index names freed), create the partitioned parent
-- like it (same columns and defaults; the seq columns keep their sequences, so no setval is
-- needed), create partitions from the oldest row's month to three months ahead plus a DEFAULT
-- partition (an insert never fails for want of a partition), copy the rows and their keys, then
-- add the triggers (after the copy: the audit chain must not re-chain copied events).

ALTER TABLE transfers RENAME TO transfers_unpartitioned;
ALTER TABLE transfers_unpartitioned DROP CONSTRAINT transfers_pkey;
DROP INDEX "transfers_idempotencyKey_key", "transfers_debitAccountId_seq_idx", "transfers_creditAccountId_seq_idx",
  "transfers_settlementRunId_idx", "transfers_debitAccountId_businessDate_idx", "transfers_creditAccountId_businessDate_idx";
CREATE TABLE transfers (LIKE transfers_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE ("createdAt");
ALTER SEQUENCE "transfers_seq_seq" OWNED BY transfers.seq;
ALTER TABLE transfers ADD CONSTRAINT "transfers_pkey" PRIMARY KEY (id, "createdAt");
CREATE INDEX "transfers_debitAccountId_seq_idx" ON transfers ("debitAccountId", seq);
CREATE INDEX "transfers_creditAccountId_seq_idx" ON transfers ("creditAccountId", seq);
CREATE INDEX "transfers_settlementRunId_idx" ON transfers ("settlementRunId");
CREATE INDEX "transfers_debitAccountId_businessDate_idx" ON transfers ("debitAccountId", "businessDate");
CREATE INDEX "transfers_creditAccountId_businessDate_idx" ON transfers ("creditAccountId", "businessDate");
ALTER TABLE transfers ADD CONSTRAINT "transfers_debitAccountId_fkey" FOREIGN KEY ("debitAccountId") REFERENCES ledger_accounts (id) ON DELETE RESTRICT ON UPDATE RESTRICT;
ALTER TABLE transfers ADD CONSTRAINT "transfers_creditAccountId_fkey" FOREIGN KEY ("creditAccountId") REFERENCES ledger_accounts (id) ON DELETE RESTRICT ON UPDATE RESTRICT;

ALTER TABLE usage_records RENAME TO usage_records_unpartitioned;
ALTER TABLE usage_records_unpartitioned DROP CONSTRAINT usage_records_pkey;
DROP INDEX "usage_records_jobId_key", "usage_records_obligationId_idx", "usage_records_operatorId_idx";
CREATE TABLE usage_records (LIKE usage_records_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE ("createdAt");
ALTER TABLE usage_records ADD CONSTRAINT "usage_records_pkey" PRIMARY KEY (id, "createdAt");
-- Not unique (usage_keys is): lookups of a job's usage record.
CREATE INDEX "usage_records_jobId_key" ON usage_records ("jobId");
CREATE INDEX "usage_records_obligationId_idx" ON usage_records ("obligationId");
CREATE INDEX "usage_records_operatorId_idx" ON usage_records ("operatorId");

ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER TABLE audit_events_unpartitioned DROP CONSTRAINT audit_events_pkey;
DROP INDEX "audit_events_id_key", "audit_events_actorMemberId_createdAt_idx", "audit_events_targetType_targetId_idx", "audit_events_createdAt_idx";
CREATE TABLE audit_events (LIKE audit_events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE ("createdAt");
ALTER SEQUENCE "audit_events_seq_seq" OWNED BY audit_events.seq;
ALTER TABLE audit_events ADD CONSTRAINT "audit_events_pkey" PRIMARY KEY (seq, "createdAt");
CREATE UNIQUE INDEX "audit_events_id_key" ON audit_events (id, "createdAt");
CREATE INDEX "audit_events_actorMemberId_createdAt_idx" ON audit_events ("actorMemberId", "createdAt");
CREATE INDEX "audit_events_targetType_targetId_idx" ON audit_events ("targetType", "targetId");
CREATE INDEX "audit_events_createdAt_idx" ON audit_events ("createdAt");

SELECT create_month_partitions(
  LEAST((SELECT min("createdAt") FROM transfers_unpartitioned), (SELECT min("createdAt") FROM usage_records_unpartitioned),
        (SELECT min("createdAt") FROM audit_events_unpartitioned), now())::date,
  (now() + interval '3 months')::date);
CREATE TABLE transfers_default PARTITION OF transfers DEFAULT;
CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT;
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

INSERT INTO transfers SELECT * FROM transfers_unpartitioned;
INSERT INTO transfer_keys ("idempotencyKey", "transferId", "createdAt") SELECT "idempotencyKey", id, "createdAt" FROM transfers_unpartitioned;
INSERT INTO usage_records SELECT * FROM usage_records_unpartitioned;
INSERT INTO usage_keys ("jobId", "usageId", "createdAt") SELECT "jobId", id, "createdAt" FROM usage_records_unpartitioned;
INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;

-- audit_event_material took the old table's row type (it followed the rename): recreate it for
-- the new parent, whose row type every partition shares.
DROP TABLE transfers_unpartitioned, usage_records_unpartitioned;
DROP FUNCTION audit_event_material(audit_events_unpartitioned);
DROP TABLE audit_events_unpartitioned;
CREATE FUNCTION audit_event_material(e audit_events) RETURNS text AS $$
  SELECT concat_ws('|', e.seq::text, e.id::text, COALESCE(e."actorMemberId"::text, ''), COALESCE(e."actorKeyId"::text, ''),
    COALESCE(e.role, ''), e.action, COALESCE(e."targetType", ''), COALESCE(e."targetId", ''), COALESCE(e."requestId", ''),
    COALESCE(e."idempotencyKey", ''), e.outcome::text, COALESCE(e."httpStatus"::text, ''), COALESCE(e."errorCode", ''),
    to_char(e."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'), COALESCE(e."prevHash", ''))
$$ LANGUAGE sql IMMUTABLE;

-- Row triggers on a partitioned table are cloned to every partition, present and future.
CREATE TRIGGER transfers_check BEFORE INSERT ON transfers FOR EACH ROW EXECUTE FUNCTION transfers_check_row();
CREATE TRIGGER transfers_keys AFTER INSERT ON transfers REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION transfers_claim_keys();
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers FOR EACH ROW EXECUTE FUNCTION transfers_refuse_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers FOR EACH STATEMENT EXECUTE FUNCTION transfers_refuse_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers_default FOR EACH STATEMENT EXECUTE FUNCTION transfers_refuse_change();
CREATE TRIGGER usage_records_keys AFTER INSERT ON usage_records REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_records_claim_keys();
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_chain();
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- An archived month (archive.<table>_yYYYYmMM, detached after it reconciled) is read-only:
-- detaching drops the row triggers cloned from the parent, so the archive adds its own.
CREATE FUNCTION archive_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'archived months are read-only (% of %.% refused)', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql;
