import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';

@Injectable()
export class GuaranteeTopUpRepository {
  /** Members whose guarantee-fund contribution holds less than their requirement, with the shortfall. */
  async shortfalls(db: Db): Promise<{ memberId: string; shortfallFen: bigint }[]> {
    return db.$queryRaw<{ memberId: string; shortfallFen: bigint }[]>`
      SELECT r."memberId", (r."amountFen" - a."balanceFen")::bigint AS "shortfallFen"
      FROM guarantee_requirements r
      JOIN ledger_accounts a ON a."memberId" = r."memberId" AND a.type = 'GUARANTEE'
      JOIN members m ON m.id = r."memberId"
      WHERE a."balanceFen" < r."amountFen" AND m.status = 'ACTIVE'
      ORDER BY r."memberId"`;
  }
}
