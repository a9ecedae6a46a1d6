import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';

export const CREATABLE_KINDS = ['OPERATOR', 'BUYER', 'TRADER'] as const;
export const ROLES = ['operator', 'buyer', 'trader', 'clearing'] as const;

export class CreateMemberDto {
  @ApiProperty({ example: 'Shanghai GPU Works', maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @ApiProperty({ enum: CREATABLE_KINDS })
  @IsIn(CREATABLE_KINDS)
  kind!: (typeof CREATABLE_KINDS)[number];
}

export class UpdateMemberDto {
  @ApiProperty({ enum: ['ACTIVE', 'SUSPENDED'] })
  @IsIn(['ACTIVE', 'SUSPENDED'])
  status!: 'ACTIVE' | 'SUSPENDED';
}

export class CreateApiKeyDto {
  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: (typeof ROLES)[number];

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  label?: string;
}

export class MemberView {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['OPERATOR', 'BUYER', 'TRADER', 'CLEARING'] }) kind!: string;
  @ApiProperty({ enum: ['ACTIVE', 'SUSPENDED'] }) status!: string;
  @ApiProperty() createdAt!: string;
}

export class ApiKeyCreatedView {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'Shown once; store it now' }) key!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiPropertyOptional() label?: string | null;
}

export class ApiKeyView {
  @ApiProperty() id!: string;
  @ApiProperty() memberId!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiPropertyOptional() label?: string | null;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional() lastUsedAt?: string | null;
  @ApiPropertyOptional() revokedAt?: string | null;
}

export class MeView {
  @ApiProperty() memberId!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty() keyId!: string;
  @ApiProperty() memberName!: string;
  @ApiProperty() memberKind!: string;
}
