import { Injectable } from '@nestjs/common';
import type { RawSql } from '../prisma/prisma.service.js';

@Injectable()
export class HealthRepository {
  /** The cheapest statement that proves Postgres answers. */
  async ping(db: RawSql): Promise<void> {
    await db.$queryRaw`SELECT 1`;
  }
}
