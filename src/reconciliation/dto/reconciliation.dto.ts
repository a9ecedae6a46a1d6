import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsDateString, IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';
import { BREAK_TYPES } from '../checks.js';

export class BreaksQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['OPEN', 'RESOLVED', 'CLEARED'] }) @IsOptional() @IsIn(['OPEN', 'RESOLVED', 'CLEARED']) status?:
    'OPEN' | 'RESOLVED' | 'CLEARED';
  @ApiPropertyOptional({ enum: BREAK_TYPES }) @IsOptional() @IsIn(BREAK_TYPES) type?: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() memberId?: string;
  @ApiPropertyOptional({ description: 'only breaks first seen at least this many hours ago' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000)
  minAgeHours?: number;
}

export class ResolveBreakDto {
  @ApiProperty({ example: 'bank confirmed the late credit; adjusted' }) @IsString() @Length(1, 2000) comment!: string;
  @ApiPropertyOptional({ description: 'the adjustment that corrected it' }) @IsOptional() @IsUUID() adjustmentId?: string;
}

const ACCOUNT = /^(member:[0-9a-f-]{36}:(cash|margin|escrow|pending)|ccp:(settlement|fees|penalties)|bank:settlement)$/;

export class ProposeAdjustmentDto {
  @ApiProperty({ example: 'ccp:fees' }) @Matches(ACCOUNT, { message: 'debitAccount must be a ledger account code' }) debitAccount!: string;
  @ApiProperty({ example: 'member:…:cash' })
  @Matches(ACCOUNT, { message: 'creditAccount must be a ledger account code' })
  creditAccount!: string;
  @ApiProperty({ type: String, example: '12.34' }) @Allow() amount!: unknown;
  @ApiProperty({ example: 'CNY' }) @Allow() currency!: unknown;
  @ApiProperty() @IsString() @Length(1, 500) reason!: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() breakId?: string;
}

export class ApproveAdjustmentDto {
  @ApiProperty({ description: 'payloadHash of the adjustment as reviewed' })
  @Matches(/^[0-9a-f]{64}$/, { message: 'payloadHash must be 64 hex characters' })
  payloadHash!: string;
}

export class RejectAdjustmentDto {
  @ApiProperty() @IsString() @Length(1, 500) comment!: string;
}

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() actorMemberId?: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() actorKeyId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) action?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 100) targetType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) targetId?: string;
  @ApiPropertyOptional() @IsOptional() @IsDateString({ strict: true }) from?: string;
  @ApiPropertyOptional() @IsOptional() @IsDateString({ strict: true }) to?: string;
}

export class AdjustmentsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['PENDING', 'APPROVED', 'REJECTED'] }) @IsOptional() @IsIn(['PENDING', 'APPROVED', 'REJECTED']) status?:
    'PENDING' | 'APPROVED' | 'REJECTED';
}
