import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';

export class ProposeStaffDto {
  @ApiProperty({ example: 'Li Wei', maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;
}

export class StaffView {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['PENDING', 'ACTIVE', 'REJECTED'] }) status!: string;
  @ApiProperty({ enum: ['BOOTSTRAP', 'CLI', 'API', 'MIGRATED'] }) origin!: string;
  @ApiProperty({ nullable: true, type: String }) proposedBy!: string | null;
  @ApiProperty({ nullable: true, type: String }) decidedBy!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) decidedAt!: string | null;
}

export class StaffApprovedView extends StaffView {
  @ApiProperty({ description: "The new person's first clearing key (shown once)" }) key!: string;
  @ApiProperty() keyId!: string;
}
