import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
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
  ValidateNested,
} from 'class-validator';
import { PageQueryDto } from '../../platform/pagination/page.js';

export const MAX_TOKENS_PER_SECOND = 10_000_000;

export class CreateDataCenterDto {
  @ApiProperty({ example: 'Shanghai-Pudong-1', maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @Matches(/^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u, { message: 'name: letters, digits, space . _ -' })
  name!: string;

  @ApiProperty({ example: 'cn-east-1', description: 'one of the configured regions' })
  @IsString()
  @Length(1, 64)
  region!: string;
}

export class ModelCapacityDto {
  @ApiProperty({ example: 'llm-70b-instruct', description: 'one of the configured model classes' })
  @IsString()
  @Length(1, 64)
  modelClass!: string;

  @ApiProperty({ example: 2400, minimum: 1, maximum: MAX_TOKENS_PER_SECOND, description: 'sustained output tokens/s' })
  @IsInt()
  @Min(1)
  @Max(MAX_TOKENS_PER_SECOND)
  tokensPerSecond!: number;
}

/** 1-16 served model classes, each validated as a ModelCapacityDto. */
const ModelCapacityList = () =>
  applyDecorators(
    ValidateNested({ each: true }),
    Type(() => ModelCapacityDto),
    ArrayMinSize(1),
    ArrayMaxSize(16),
  );

export class CreateNodeDto {
  @ApiProperty()
  @IsUUID()
  dataCenterId!: string;

  @ApiProperty({ example: 'H800', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { message: 'gpuModel: letters, digits, space . _ -' })
  gpuModel!: string;

  @ApiProperty({ example: 8, minimum: 1, maximum: 1024 })
  @IsInt()
  @Min(1)
  @Max(1024)
  gpuCount!: number;

  @ApiProperty({ type: [ModelCapacityDto] })
  @ModelCapacityList()
  models!: ModelCapacityDto[];
}

export class UpdateNodeDto {
  @ApiPropertyOptional({ enum: ['ONLINE', 'DRAINING'] })
  @IsOptional()
  @IsIn(['ONLINE', 'DRAINING'])
  status?: 'ONLINE' | 'DRAINING';

  @ApiPropertyOptional({ type: [ModelCapacityDto] })
  @IsOptional()
  @ModelCapacityList()
  models?: ModelCapacityDto[];
}

export class HeartbeatDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 100, description: 'current load, percent' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  load?: number;

  @ApiPropertyOptional({ type: [ModelCapacityDto], description: 'current per-model capacity, when it changed' })
  @IsOptional()
  @ModelCapacityList()
  models?: ModelCapacityDto[];

  @ApiPropertyOptional({
    type: [String],
    maxItems: 1024,
    description:
      'the lease tokens of the jobs the agent is working on: only those are extended (without the list, every lease of the node is)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1024)
  @IsString({ each: true })
  @Length(1, 64, { each: true })
  leases?: string[];
}

export class CapacityQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'llm-70b-instruct' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  modelClass?: string;

  @ApiPropertyOptional({ example: 'cn-east-1' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  region?: string;
}

export class DataCenterView {
  @ApiProperty() id!: string;
  @ApiProperty() operatorId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() region!: string;
  @ApiProperty() createdAt!: string;
}

export class NodeView {
  @ApiProperty() id!: string;
  @ApiProperty() dataCenterId!: string;
  @ApiProperty() operatorId!: string;
  @ApiProperty() region!: string;
  @ApiProperty() gpuModel!: string;
  @ApiProperty() gpuCount!: number;
  @ApiProperty({ enum: ['ONLINE', 'DRAINING', 'OFFLINE'] }) status!: string;
  @ApiProperty({ type: [ModelCapacityDto] }) models!: { modelClass: string; tokensPerSecond: number }[];
  @ApiPropertyOptional() lastHeartbeatAt!: string | null;
  @ApiPropertyOptional() load!: number | null;
  @ApiProperty() createdAt!: string;
}

export class NodeCreatedView extends NodeView {
  @ApiProperty({ description: 'Shown once: the agent authenticates with it' }) nodeToken!: string;
}

export class NodeTokenView {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'Shown once: the old token is refused from now on' }) nodeToken!: string;
}

export class CapacityRowView {
  @ApiProperty() modelClass!: string;
  @ApiProperty() region!: string;
  @ApiProperty() onlineNodes!: number;
  @ApiProperty() tokensPerSecond!: number;
  @ApiProperty() committedTokensPerSecond!: number;
  @ApiProperty() availableTokensPerSecond!: number;
}
