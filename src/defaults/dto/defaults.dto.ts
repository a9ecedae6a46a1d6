import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { MoneyInDto } from '../../ledger/dto/cash.dto.js';
import { PageQueryDto } from '../../platform/pagination/page.js';

export class GuaranteeRequirementDto extends MoneyInDto {}

export class CapitalDto extends MoneyInDto {
  @ApiPropertyOptional({ example: 'CAP-2026-12', description: 'Bank reference of the capital paid in (1-35 characters)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$/)
  reference?: string;
}

export class ProposeDefaultDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  memberId!: string;

  @ApiProperty({ maxLength: 500, example: 'Margin call of 2026-12-03 unpaid' })
  @IsString()
  @Length(1, 500)
  reason!: string;
}

export class BidDto {
  @ApiProperty({ example: 'L70-STD-2612' })
  @IsString()
  @Length(1, 40)
  series!: string;

  @ApiProperty({ type: String, example: '4.10', description: 'CNY per 1,000,000 tokens' })
  @Allow()
  price!: unknown;

  @ApiProperty({ minimum: 1 })
  @Allow()
  quantity!: unknown;
}

export class DefaultsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['PROPOSED', 'AUCTION', 'COMPLETED'] })
  @IsOptional()
  @IsIn(['PROPOSED', 'AUCTION', 'COMPLETED'])
  status?: 'PROPOSED' | 'AUCTION' | 'COMPLETED';
}

export class StandbyOfferDto {
  @ApiProperty({ example: 'llm-70b-instruct' })
  @IsString()
  @Length(1, 64)
  modelClass!: string;

  @ApiProperty({ type: [String], example: ['cn-east-1'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  regions!: string[];

  @ApiProperty({ type: Number, description: 'Tokens the operator stands ready to deliver' })
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  tokens!: number;

  @ApiProperty({ description: 'Premium over the obligation price, basis points of the moved value' })
  @IsInt()
  @Min(0)
  @Max(10_000)
  premiumBp!: number;
}

export class MoneyView {
  @ApiProperty() amount!: string;
  @ApiProperty({ enum: ['CNY'] }) currency!: string;
}

export class GuaranteeView {
  @ApiProperty() memberId!: string;
  @ApiProperty() requirement!: string;
  @ApiProperty() contribution!: string;
  @ApiProperty({ enum: ['CNY'] }) currency!: string;
}

export class DefaultView {
  @ApiProperty() id!: string;
  @ApiProperty() memberId!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ enum: ['PROPOSED', 'AUCTION', 'COMPLETED'] }) status!: string;
  @ApiProperty({ enum: ['API', 'AUTO'] }) origin!: string;
  @ApiProperty({ nullable: true, type: String }) proposedBy!: string | null;
  @ApiProperty({ nullable: true, type: String }) approvedBy!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) approvedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) auctionEndsAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) completedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'fen' }) lossFen!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'fen' }) coveredFen!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'fen' }) uncoveredFen!: string | null;
}
