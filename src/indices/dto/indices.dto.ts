import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsOptional, IsString, Length } from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';

export class FixingsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: '2026-12-01', description: 'first business date (inclusive)' })
  @IsOptional()
  @IsString()
  @Length(1, 10)
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-31', description: 'last business date (inclusive)' })
  @IsOptional()
  @IsString()
  @Length(1, 10)
  to?: string;
}

export class RunFixingDto {
  @ApiPropertyOptional({ example: '2026-12-01', description: 'an ended business date; default: the one that ended last' })
  @IsOptional()
  @IsString()
  @Length(1, 10)
  businessDate?: string;
}

export class ProposeCorrectionDto {
  @ApiProperty({ type: String, example: '4.20', description: 'the corrected price, CNY per 1M tokens' }) @Allow() price!: unknown;
  @ApiProperty({ example: 'a trade busted after the cut-off was included' }) @IsString() @Length(3, 2000) reason!: string;
}
