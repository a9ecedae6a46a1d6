import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { PageQueryDto } from '../platform/pagination/page.js';

/** Paging applies to the JSON list; the pain.001 and CSV files always hold every instruction of the date. */
export class PaymentInstructionsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: '2026-12-01' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'businessDate must be YYYY-MM-DD' })
  businessDate?: string;
  @ApiPropertyOptional({ enum: ['json', 'pain001', 'csv'] }) @IsOptional() @IsIn(['json', 'pain001', 'csv']) format?:
    'json' | 'pain001' | 'csv';
}
