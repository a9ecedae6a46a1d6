import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsDateString, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';

export class StartRunDto {
  @ApiProperty({ enum: ['DAILY', 'EXPIRY', 'DELIVERY_CLOSE'] }) @IsIn(['DAILY', 'EXPIRY', 'DELIVERY_CLOSE']) type!:
    'DAILY' | 'EXPIRY' | 'DELIVERY_CLOSE';
  @ApiPropertyOptional({ example: '2026-12-01', description: 'default: the last business day that has ended' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  businessDate?: string;
  @ApiPropertyOptional({ example: 'L70-STD-2612', description: 'default: every series the run type applies to' })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  series?: string;
}

export class FixPriceDto {
  @ApiProperty({ type: String, example: '4.05' }) @Allow() price!: unknown;
  @ApiPropertyOptional({ example: '2026-12-01', description: 'default: the business date in progress' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  businessDate?: string;
}

export class MarginCallsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['OPEN', 'CLOSED'] }) @IsOptional() @IsIn(['OPEN', 'CLOSED']) status?: 'OPEN' | 'CLOSED';
  @ApiPropertyOptional({ enum: ['VARIATION', 'MAINTENANCE'] })
  @IsOptional()
  @IsIn(['VARIATION', 'MAINTENANCE'])
  type?: 'VARIATION' | 'MAINTENANCE';
}

export class IndexFixingDto {
  @ApiProperty({ type: String, example: '4.12' }) @Allow() price!: unknown;
  @ApiProperty({ example: 'TokenClear inference price index, 70B class, 15:00 CST' }) @IsString() @Length(1, 200) source!: string;
  @ApiProperty({ example: '2026-12-20T15:00:00+08:00' }) @IsDateString({ strict: true }) @MaxLength(64) asOf!: string;
}

export class RunsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: '2026-12-01', description: 'default: runs created in the last 24 hours' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  businessDate?: string;
}
