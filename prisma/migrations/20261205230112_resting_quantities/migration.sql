-- CreateTable
CREATE TABLE "resting_quantities" (
    "memberId" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "buyQty" INTEGER NOT NULL DEFAULT 0,
    "sellQty" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "resting_quantities_pkey" PRIMARY KEY ("memberId","seriesId")
);
-- Kept in the statement that changes orders (statement-level, transition tables): one upsert per
-- statement however many orders it touched. Deltas are grouped and applied in key order, so two
-- statements touching the same rows take their locks in one order.
CREATE FUNCTION resting_quantities_apply() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO resting_quantities AS r ("memberId", "seriesId", "buyQty", "sellQty")
    SELECT "memberId", "seriesId",
           COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'BUY'), 0),
           COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'SELL'), 0)
    FROM new_rows WHERE status IN ('OPEN', 'PARTIALLY_FILLED')
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT ("memberId", "seriesId") DO UPDATE
      SET "buyQty" = r."buyQty" + EXCLUDED."buyQty", "sellQty" = r."sellQty" + EXCLUDED."sellQty";
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO resting_quantities AS r ("memberId", "seriesId", "buyQty", "sellQty")
    SELECT "memberId", "seriesId", sum(buy), sum(sell) FROM (
      SELECT "memberId", "seriesId", CASE WHEN side = 'BUY' THEN quantity - "filledQuantity" ELSE 0 END AS buy,
             CASE WHEN side = 'SELL' THEN quantity - "filledQuantity" ELSE 0 END AS sell
      FROM new_rows WHERE status IN ('OPEN', 'PARTIALLY_FILLED')
      UNION ALL
      SELECT "memberId", "seriesId", CASE WHEN side = 'BUY' THEN "filledQuantity" - quantity ELSE 0 END,
             CASE WHEN side = 'SELL' THEN "filledQuantity" - quantity ELSE 0 END
      FROM old_rows WHERE status IN ('OPEN', 'PARTIALLY_FILLED')
    ) d
    GROUP BY 1, 2 HAVING sum(buy) <> 0 OR sum(sell) <> 0 ORDER BY 1, 2
    ON CONFLICT ("memberId", "seriesId") DO UPDATE
      SET "buyQty" = r."buyQty" + EXCLUDED."buyQty", "sellQty" = r."sellQty" + EXCLUDED."sellQty";
  ELSE
    UPDATE resting_quantities r SET "buyQty" = r."buyQty" - d.buy, "sellQty" = r."sellQty" - d.sell
    FROM (
      SELECT "memberId", "seriesId",
             COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'BUY'), 0) AS buy,
             COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'SELL'), 0) AS sell
      FROM old_rows WHERE status IN ('OPEN', 'PARTIALLY_FILLED') GROUP BY 1, 2
    ) d
    WHERE r."memberId" = d."memberId" AND r."seriesId" = d."seriesId";
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_resting_insert AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION resting_quantities_apply();
CREATE TRIGGER orders_resting_update AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION resting_quantities_apply();
CREATE TRIGGER orders_resting_delete AFTER DELETE ON orders REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION resting_quantities_apply();

-- Orders already resting when this migration runs.
INSERT INTO resting_quantities ("memberId", "seriesId", "buyQty", "sellQty")
SELECT "memberId", "seriesId",
       COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'BUY'), 0),
       COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'SELL'), 0)
FROM orders WHERE status IN ('OPEN', 'PARTIALLY_FILLED') GROUP BY 1, 2;
