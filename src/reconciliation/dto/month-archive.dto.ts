import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';

export class ArchiveMonthDto {
  @ApiProperty({ example: '2026-10', description: 'a UTC month that has ended, the oldest still live' })
  @Matches(/^\d{4}-(0[1-9]|1[0-2])$/, { message: 'month must be YYYY-MM' })
  month!: string;
}
