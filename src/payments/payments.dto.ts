import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';

export class PaymentInstructionsQueryDto {
  @ApiPropertyOptional({ example: '2026-12-01' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'businessDate must be YYYY-MM-DD' })
  businessDate?: string;
  @ApiPropertyOptional({ enum: ['json', 'pain001', 'csv'] }) @IsOptional() @IsIn(['json', 'pain001', 'csv']) format?:
    'json' | 'pain001' | 'csv';
}
