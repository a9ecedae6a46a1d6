-- Margin held per position becomes a quantity (worst-case contracts) valued at the series'
-- margin price, so that a daily re-pricing needs no write per position.
ALTER TABLE "positions" ADD COLUMN "marginQty" INTEGER NOT NULL DEFAULT 0;

-- Carry existing holdings over: the worst-case contracts of each position with its resting orders.
UPDATE "positions" p SET "marginQty" = GREATEST(
    GREATEST(0, (p."longQty" - p."shortQty") + COALESCE(r.buy, 0)),
    GREATEST(0, COALESCE(r.sell, 0) - (p."longQty" - p."shortQty")))
FROM (
    SELECT q."memberId", q."seriesId",
           sum(o.quantity - o."filledQuantity") FILTER (WHERE o.side = 'BUY') AS buy,
           sum(o.quantity - o."filledQuantity") FILTER (WHERE o.side = 'SELL') AS sell
    FROM "positions" q LEFT JOIN "orders" o
      ON o."memberId" = q."memberId" AND o."seriesId" = q."seriesId" AND o.status IN ('OPEN', 'PARTIALLY_FILLED')
    GROUP BY q."memberId", q."seriesId"
) r
WHERE r."memberId" = p."memberId" AND r."seriesId" = p."seriesId" AND p."marginHeldFen" > 0;

ALTER TABLE "positions" DROP COLUMN "marginHeldFen";

-- A DAILY run settles a set of series (one netted transfer per member), listed in
-- settlement_run_series; its seriesId stays null.
ALTER TABLE "settlement_runs" ALTER COLUMN "seriesId" DROP NOT NULL;

CREATE TABLE "settlement_run_series" (
    "runId" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "businessDate" DATE NOT NULL,

    CONSTRAINT "settlement_run_series_pkey" PRIMARY KEY ("runId","seriesId")
);

-- At most one DAILY run settles a series on a business date, whatever the sets.
CREATE UNIQUE INDEX "settlement_run_series_businessDate_seriesId_key" ON "settlement_run_series"("businessDate", "seriesId");

INSERT INTO "settlement_run_series" ("runId", "seriesId", "businessDate")
SELECT id, "seriesId", "businessDate" FROM "settlement_runs" WHERE type = 'DAILY' AND "seriesId" IS NOT NULL;
