-- A posting the ledger refuses fails its own statement (SQLSTATE TCF01: an account would go below
-- zero; TCA01: an account does not exist), so no transfer can ever commit without its balance
-- change, whoever issued the statement and however it was sent (pipelined ahead of a COMMIT).
CREATE FUNCTION ledger_refuse(sqlstate text, detail text) RETURNS boolean AS $$
BEGIN
  RAISE EXCEPTION '%', detail USING ERRCODE = sqlstate;
END;
$$ LANGUAGE plpgsql VOLATILE;
