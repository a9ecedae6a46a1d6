-- The ledger's integrity checks on transfers, per statement instead of per row. A batch of 50,000
-- transfers ran a plpgsql trigger and two foreign-key checks (each a FOR KEY SHARE lookup of the
-- account) for every row: without them bench:ledger posted 29.9k transfers/s against 21.0k.
-- The same rules hold, checked over the inserted rows once per statement; the statement fails
-- whole, as before:
-- * amount positive, debit and credit different (check_violation, the same messages). CHECK
--   constraints would do it in C, but Prisma's schema engine (WASM) cannot introspect them here
--   and the drift check stops;
-- * both accounts exist (foreign_key_violation, as the constraints raised); and an account, once
--   referenced, can never go: ledger accounts are never deleted nor re-keyed (the constraints'
--   ON DELETE / ON UPDATE RESTRICT, now for every account).
DROP TRIGGER transfers_check ON transfers;
DROP FUNCTION transfers_check_row();

ALTER TABLE transfers DROP CONSTRAINT "transfers_debitAccountId_fkey";
ALTER TABLE transfers DROP CONSTRAINT "transfers_creditAccountId_fkey";

-- Its own statement trigger beside transfers_keys (both read the one transition table Postgres
-- captures for the statement); by name it fires first: a refused statement does no key work.
CREATE FUNCTION transfers_check_statement() RETURNS trigger AS $$
DECLARE
  bad transfers;
  missing uuid;
BEGIN
  SELECT * INTO bad FROM new_rows n WHERE n."amountFen" <= 0 OR n."debitAccountId" = n."creditAccountId" LIMIT 1;
  IF FOUND THEN
    IF bad."amountFen" <= 0 THEN
      RAISE EXCEPTION 'transfer amount must be positive (got %)', bad."amountFen" USING ERRCODE = 'check_violation';
    END IF;
    RAISE EXCEPTION 'transfer debit and credit accounts must differ' USING ERRCODE = 'check_violation';
  END IF;
  SELECT x.id INTO missing FROM (
    SELECT n."debitAccountId" AS id FROM new_rows n UNION SELECT n."creditAccountId" FROM new_rows n
  ) x WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = x.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "transfers" violates the ledger: account % does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER transfers_check AFTER INSERT ON transfers REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION transfers_check_statement();

CREATE FUNCTION ledger_accounts_refuse_removal() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id <> OLD.id THEN
    RAISE EXCEPTION 'ledger accounts are permanent (% of account % refused)', TG_OP, OLD.code USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_accounts_permanent BEFORE DELETE OR UPDATE OF id ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_accounts_refuse_removal();
