-- CreateEnum
CREATE TYPE "NodeStatus" AS ENUM ('ONLINE', 'DRAINING', 'OFFLINE');

-- CreateTable
CREATE TABLE "data_centers" (
    "id" UUID NOT NULL,
    "operatorId" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "region" VARCHAR(64) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "data_centers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "nodes" (
    "id" UUID NOT NULL,
    "dataCenterId" UUID NOT NULL,
    "operatorId" UUID NOT NULL,
    "region" VARCHAR(64) NOT NULL,
    "gpuModel" VARCHAR(100) NOT NULL,
    "gpuCount" INTEGER NOT NULL,
    "status" "NodeStatus" NOT NULL DEFAULT 'OFFLINE',
    "tokenHash" VARCHAR(64) NOT NULL,
    "lastHeartbeatAt" TIMESTAMPTZ(3),
    "loadPercent" INTEGER,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "nodes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "node_models" (
    "nodeId" UUID NOT NULL,
    "modelClass" VARCHAR(64) NOT NULL,
    "tokensPerSecond" INTEGER NOT NULL,

    CONSTRAINT "node_models_pkey" PRIMARY KEY ("nodeId","modelClass")
);

-- CreateIndex
CREATE UNIQUE INDEX "data_centers_operatorId_name_key" ON "data_centers"("operatorId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "nodes_tokenHash_key" ON "nodes"("tokenHash");

-- CreateIndex
CREATE INDEX "nodes_operatorId_idx" ON "nodes"("operatorId");

-- CreateIndex
CREATE INDEX "nodes_status_lastHeartbeatAt_idx" ON "nodes"("status", "lastHeartbeatAt");

-- CreateIndex
CREATE INDEX "node_models_modelClass_idx" ON "node_models"("modelClass");

-- AddForeignKey
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_dataCenterId_fkey" FOREIGN KEY ("dataCenterId") REFERENCES "data_centers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_models" ADD CONSTRAINT "node_models_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE CASCADE;
