import { Injectable } from '@nestjs/common';
import type { RawSql } from '../prisma/prisma.service.js';

export interface OutboxRow {
  /** int8, as text (pg's own form: the relay only hands it back). */
  seq: string;
  queue: string;
  jobName: string;
  jobId: string;
  payload: unknown;
  notBefore: Date | null;
}

/** The outbox table: messages written with the business rows, claimed and marked sent by the relay. */
@Injectable()
export class OutboxRepository {
  /**
   * Hand-written so a hot path's pg transaction (SqlTx) can write its messages as Prisma's can.
   * One statement for all the messages, whatever their number.
   */
  async insert(db: RawSql, queue: string, jobName: string, items: { payload: unknown; jobId: string; notBefore?: Date }[]): Promise<void> {
    await db.$executeRaw`
      INSERT INTO outbox_messages (id, queue, "jobName", "jobId", payload, "notBefore")
      SELECT gen_random_uuid(), ${queue}, ${jobName}, x.job_id, x.payload, x.not_before
      FROM unnest(${items.map((i) => i.jobId)}::text[], ${items.map((i) => JSON.stringify(i.payload))}::jsonb[], ${items.map((i) => i.notBefore?.toISOString() ?? null)}::timestamptz[]) AS x(job_id, payload, not_before)`;
  }

  /** The oldest unsent messages, locked with SKIP LOCKED so any number of relays can work at once. */
  async claimUnsent(tx: RawSql, limit: number): Promise<OutboxRow[]> {
    return await tx.$queryRaw<OutboxRow[]>`
          SELECT seq::text AS seq, queue, "jobName", "jobId", payload, "notBefore" FROM outbox_messages
          WHERE "sentAt" IS NULL ORDER BY seq LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
  }

  async markSent(tx: RawSql, seqs: string[]): Promise<void> {
    await tx.$executeRaw`UPDATE outbox_messages SET "sentAt" = now(), attempts = attempts + 1
          WHERE seq = ANY(${seqs}::bigint[])`;
  }
}
