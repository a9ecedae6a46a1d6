import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';

export class ProposeBankAccountDto {
  @ApiProperty({ example: '102100099996', description: 'CNAPS code of the bank (12 digits)' })
  @IsString()
  @Matches(/^\d{12}$/, { message: 'bankCode must be the 12-digit CNAPS code of the bank' })
  bankCode!: string;

  @ApiProperty({ example: '6222020200112233445', maxLength: 34 })
  @IsString()
  @Matches(/^[A-Za-z0-9]{1,34}$/, { message: 'accountNumber must be 1-34 letters or digits' })
  accountNumber!: string;

  @ApiProperty({ example: 'Beijing Inference Trading Co., Ltd.', maxLength: 140 })
  @IsString()
  @Length(1, 140)
  // No control characters: the name goes into the bank's payment file as it is.
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*\S[^\u0000-\u001f\u007f]*$/, { message: 'holderName must be printable text' })
  holderName!: string;
}

export class BankAccountDecisionDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class BankAccountView {
  @ApiProperty() id!: string;
  @ApiProperty() memberId!: string;
  @ApiProperty({ example: '102100099996' }) bankCode!: string;
  @ApiProperty() accountNumber!: string;
  @ApiProperty() holderName!: string;
  @ApiProperty({ enum: ['PENDING', 'VERIFIED', 'REJECTED'] }) status!: string;
  @ApiProperty() proposedByKeyId!: string;
  @ApiPropertyOptional({ description: 'the clearing person who proposed it; null when the member did' })
  proposedByStaffId!: string | null;
  @ApiPropertyOptional() decidedByKeyId!: string | null;
  @ApiPropertyOptional() decidedByStaffId!: string | null;
  @ApiPropertyOptional() decidedAt!: string | null;
  @ApiPropertyOptional() reason!: string | null;
  @ApiProperty() createdAt!: string;
}
