import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';
import { TRANSFER_KINDS } from '../ledger.types.js';

// Money fields are declared `unknown` and parsed by parseAmount/parseCurrency, so that each
// malformed amount answers with its own stable code rather than a generic validation error.

export class MoneyInDto {
  @ApiProperty({ type: String, example: '100.00', description: 'CNY, decimal string, at most 2 decimals' })
  @Allow()
  amount!: unknown;

  @ApiProperty({ type: String, enum: ['CNY'] })
  @Allow()
  currency!: unknown;
}

export class DepositDto extends MoneyInDto {
  @ApiProperty({ example: 'BOC-20261124-000123', description: "The settlement bank's reference (end-to-end id), 1-35 characters" })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$/, { message: 'reference must be 1-35 characters of A-Z a-z 0-9 . _ / -' })
  reference!: string;
}

export class WithdrawalDto extends MoneyInDto {}

export class DecisionDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class TransfersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: TRANSFER_KINDS })
  @IsOptional()
  @IsIn(TRANSFER_KINDS)
  kind?: (typeof TRANSFER_KINDS)[number];

  @ApiPropertyOptional({ example: '2026-12-01', description: 'first business date (inclusive)' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-31', description: 'last business date (inclusive)' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  to?: string;
}

export class WithdrawalsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['PENDING', 'APPROVED', 'REJECTED'] })
  @IsOptional()
  @IsIn(['PENDING', 'APPROVED', 'REJECTED'])
  status?: 'PENDING' | 'APPROVED' | 'REJECTED';
}

/** The trial balance's accounts, a page at a time (default: the largest page). */
export class TrialBalanceQueryDto extends PageQueryDto {}

export class BalancesView {
  @ApiProperty({ enum: ['CNY'] }) currency!: 'CNY';
  @ApiProperty({ example: '100.00' }) cash!: string;
  @ApiProperty({ example: '0.00' }) margin!: string;
  @ApiProperty({ example: '0.00' }) escrow!: string;
  @ApiProperty({ example: '0.00' }) pending!: string;
}

export class TransferView {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: TRANSFER_KINDS }) kind!: string;
  @ApiProperty({ example: 'bank:settlement' }) debitAccount!: string;
  @ApiProperty({ example: 'member:…:cash' }) creditAccount!: string;
  @ApiProperty({ example: '100.00' }) amount!: string;
  @ApiProperty({ enum: ['CNY'] }) currency!: 'CNY';
  @ApiProperty({ example: '2026-12-01' }) businessDate!: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional() reference?: string | null;
  @ApiProperty({ description: 'settlementRunId, tradeId, obligationId, jobId, withdrawalId when set' }) refs!: Record<string, string>;
}

export class WithdrawalView {
  @ApiProperty() id!: string;
  @ApiProperty() memberId!: string;
  @ApiProperty({ example: '50.00' }) amount!: string;
  @ApiProperty({ enum: ['CNY'] }) currency!: 'CNY';
  @ApiProperty({ enum: ['PENDING', 'APPROVED', 'REJECTED'] }) status!: string;
  @ApiProperty() businessDate!: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional() decidedAt?: string | null;
  @ApiPropertyOptional() reason?: string | null;
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description:
      'above WITHDRAWAL_FOUR_EYES_ABOVE: when the first of two approvals was given (still PENDING until a second person approves)',
  })
  firstApprovedAt?: string | null;
}

export class TrialBalanceView {
  @ApiProperty({ enum: ['CNY'] }) currency!: 'CNY';
  @ApiProperty({ type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, balance: { type: 'string' } } } })
  accounts!: { code: string; balance: string }[];
  @ApiProperty({ example: '0.00', description: 'over every account, not only this page: must be 0.00' }) total!: string;
  @ApiProperty({ type: String, nullable: true, description: 'cursor of the next page of accounts; null on the last' })
  nextCursor!: string | null;
}
