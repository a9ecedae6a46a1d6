import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDateString,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';

const BP = { minimum: 0, maximum: 10_000 };

export class CreateProductDto {
  @ApiProperty({ example: 'L70-STD' }) @Matches(/^[A-Z0-9][A-Z0-9-]{1,31}$/, { message: 'code: 2-32 of A-Z 0-9 -' }) code!: string;
  @ApiProperty({ example: 'llm-70b-instruct' }) @IsString() @Length(1, 64) modelClass!: string;
  @ApiProperty({ example: 10_000_000, description: 'a whole multiple of 1,000,000' })
  @IsInt()
  @Min(1_000_000)
  @Max(1_000_000_000_000)
  contractSizeTokens!: number;
  @ApiProperty({ example: 1, description: 'fen, ≥ 1' }) @IsInt() @Min(1) @Max(100_000_000) tickFen!: number;
  @ApiProperty({ enum: ['CASH', 'PHYSICAL'] }) @IsIn(['CASH', 'PHYSICAL']) settlementType!: 'CASH' | 'PHYSICAL';
  @ApiProperty(BP) @IsInt() @Min(0) @Max(10_000) initialMarginBp!: number;
  @ApiProperty(BP) @IsInt() @Min(0) @Max(10_000) maintenanceMarginBp!: number;
  @ApiPropertyOptional(BP) @IsOptional() @IsInt() @Min(1) @Max(10_000) dailyPriceLimitBp?: number;
  @ApiProperty({ example: 5 }) @IsInt() @Min(0) @Max(100_000_000) feePerContractFen!: number;
  @ApiProperty(BP) @IsInt() @Min(0) @Max(10_000) penaltyBp!: number;
  @ApiProperty({ example: 2000 }) @IsInt() @Min(1) @Max(600_000) maxTtftMs!: number;
  @ApiProperty({ example: 20 }) @IsInt() @Min(1) @Max(10_000_000) minTokensPerSecond!: number;
  @ApiProperty({ example: ['cn-east-1', 'cn-north-1'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @MaxLength(64, { each: true }) // a finite largest body (platform/http/body-limits.ts)
  regions!: string[];
  @ApiProperty({ ...BP, example: 2500, description: 'billable = output + input × weight / 10,000' })
  @IsInt()
  @Min(0)
  @Max(10_000)
  inputTokenWeightBp!: number;
  @ApiPropertyOptional({
    example: 'TTI-70B',
    description: 'CASH only: the token index whose fixing settles the series when clearing records none',
  })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  indexCode?: string;
  @ApiPropertyOptional({ ...BP, description: 'calendar-spread charge per offset contract; omitted: no spread credit' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  spreadChargeBp?: number;
  @ApiPropertyOptional({ ...BP, default: 10_000, description: "share of a series' open interest above which the add-on applies" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  concentrationThresholdBp?: number;
  @ApiPropertyOptional({ ...BP, default: 0 }) @IsOptional() @IsInt() @Min(0) @Max(10_000) concentrationAddOnBp?: number;
  @ApiPropertyOptional({ description: 'all-months limit, contracts; omitted: none' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  positionLimit?: number;
  @ApiPropertyOptional({ description: 'per series within 30 days of delivery start, contracts; omitted: none' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  spotMonthLimit?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: 10_000, description: 'dynamic circuit breaker band; omitted: off' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  circuitBreakerBp?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: 86_400, default: 120 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  circuitBreakerPauseSeconds?: number;
  @ApiPropertyOptional({ ...BP, default: 200, description: 'share of completed jobs re-run on another operator’s node (SPEC §6.1)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  verificationBp?: number;
  @ApiPropertyOptional({ ...BP, default: 9_000, description: 'token-level similarity under which a verification fails' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  verificationThresholdBp?: number;
}

export class CreateSeriesDto {
  @ApiProperty({ example: 'L70-STD' }) @IsString() @Length(1, 32) productCode!: string;
  @ApiProperty({ example: 'L70-STD-2612' }) @Matches(/^[A-Z0-9][A-Z0-9-]{1,39}$/, { message: 'code: 2-40 of A-Z 0-9 -' }) code!: string;
  @ApiPropertyOptional({ description: 'default: now' })
  @IsOptional()
  @IsDateString({ strict: true })
  @MaxLength(64)
  tradingStartAt?: string;
  @ApiProperty() @IsDateString({ strict: true }) @MaxLength(64) lastTradingAt!: string;
  @ApiProperty() @IsDateString({ strict: true }) @MaxLength(64) deliveryStart!: string;
  @ApiProperty() @IsDateString({ strict: true }) @MaxLength(64) deliveryEnd!: string;
  @ApiProperty({ type: String, example: '4.00', description: 'CNY per 1M tokens: the margin price until the first daily settlement price' })
  @Allow()
  referencePrice!: unknown;
}

export class PlaceOrderDto {
  @ApiProperty({ example: 'L70-STD-2612' }) @IsString() @Length(1, 40) series!: string;
  @ApiProperty({ enum: ['BUY', 'SELL'] }) @IsIn(['BUY', 'SELL']) side!: 'BUY' | 'SELL';
  @ApiProperty({ type: String, example: '4.00', description: 'CNY per 1M tokens' }) @Allow() price!: unknown;
  @ApiProperty({ example: 10, description: 'contracts, ≥ 1' }) @Allow() quantity!: unknown;
  @ApiProperty({ enum: ['GTC', 'IOC'] }) @IsIn(['GTC', 'IOC']) timeInForce!: 'GTC' | 'IOC';
  @ApiPropertyOptional({ maxLength: 64 }) @IsOptional() @Matches(/^[A-Za-z0-9._:-]{1,64}$/) clientOrderId?: string;
}

export class BlockTradeDto {
  @ApiProperty() @IsString() @Length(1, 40) series!: string;
  @ApiProperty() @IsUUID() buyerId!: string;
  @ApiProperty() @IsUUID() sellerId!: string;
  @ApiProperty({ type: String, example: '4.00' }) @Allow() price!: unknown;
  @ApiProperty({ example: 100 }) @Allow() quantity!: unknown;
}

export class OrdersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED'] })
  @IsOptional()
  @IsIn(['OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED'])
  status?: 'OPEN' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED';

  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 40) series?: string;
}

export class TradesQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 40) series?: string;
}

export class PositionsQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 40) series?: string;
}

export class BookQueryDto {
  @ApiPropertyOptional({ default: 10, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  levels?: number;
}
