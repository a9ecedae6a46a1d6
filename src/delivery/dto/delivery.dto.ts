import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
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
import { CharBudget } from '../../platform/http/body-limits.js';
import { SchemaChecked } from '../../platform/http/schema-checked.js';
import { PageQueryDto } from '../../platform/pagination/page.js';

export const MAX_MESSAGES = 64;
export const MAX_MESSAGE_CHARS = 32_000;
export const MAX_OUTPUT_CHARS = 1_000_000;
/**
 * Character budgets (all strings of the body together, UTF-16 units): 64 messages × 32,000
 * characters is 2 million characters a job and 200 million a batch of 100, bodies no one should
 * send or parse. A job carries at most 512,000 (a 128k-token context), a batch 1,000,000, a
 * completion report 2,000,000 (a whole 1,000,000-character output fits); over it → 400 (413 for a
 * report: the agent halves a report on 413).
 */
export const MAX_JOB_CHARS = 512_000;
export const MAX_BATCH_CHARS = 1_000_000;
export const MAX_REPORT_CHARS = 2_000_000;

export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'user', 'assistant'] }) @IsIn(['system', 'user', 'assistant']) role!: 'system' | 'user' | 'assistant';
  @ApiProperty({ maxLength: MAX_MESSAGE_CHARS }) @IsString() @Length(1, MAX_MESSAGE_CHARS) content!: string;
}

@CharBudget(MAX_JOB_CHARS)
export class SubmitJobDto {
  @ApiPropertyOptional({ example: 'L70-STD-2612', description: 'series (or obligationId) the tokens come from' })
  @IsOptional()
  @IsString()
  @Length(1, 40)
  series?: string;
  @ApiPropertyOptional({ description: 'a specific obligation of the caller' }) @IsOptional() @IsUUID() obligationId?: string;
  @ApiProperty({ example: 'llm-70b-instruct' }) @IsString() @Length(1, 64) modelClass!: string;
  @ApiProperty({ type: [ChatMessageDto] })
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_MESSAGES)
  messages!: ChatMessageDto[];
  @ApiProperty({ example: 512, minimum: 1 }) @IsInt() @Min(1) maxTokens!: number;
  @ApiPropertyOptional({ example: 'cn-east-1' }) @IsOptional() @IsString() @Length(1, 64) region?: string;
  @ApiPropertyOptional({ example: 'https://buyer.example/hooks/tokenclear' })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'callbackUrl must be an http(s) URL' })
  callbackUrl?: string;
}

/** Jobs one lease request may take, and completions one report may carry. */
export const MAX_LEASE_JOBS = 256;
export const MAX_COMPLETIONS = 256;

export class LeaseDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LEASE_JOBS, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_LEASE_JOBS)
  maxJobs?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 60, default: 0, description: 'long-poll: wait up to this long for work' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(60)
  waitSeconds?: number;
}

export class UsageDto {
  @ApiProperty() @IsInt() @Min(0) @Max(10_000_000) prompt_tokens!: number;
  @ApiProperty() @IsInt() @Min(0) @Max(10_000_000) completion_tokens!: number;
}

export class CompleteJobDto {
  @ApiProperty() @IsString() @Length(1, 64) leaseToken!: string;
  @ApiProperty({ type: UsageDto }) @ValidateNested() @Type(() => UsageDto) usage!: UsageDto;
  @ApiProperty() @IsInt() @Min(0) @Max(86_400_000) ttftMs!: number;
  @ApiProperty() @IsInt() @Min(0) @Max(86_400_000) durationMs!: number;
  @ApiProperty({ maxLength: MAX_OUTPUT_CHARS }) @IsString() @Length(0, MAX_OUTPUT_CHARS) output!: string;
  // Accepted, not yet acted on: the server will count tokens itself (SPEC §6.1).
  @ApiPropertyOptional({ description: 'true when usage is the node’s estimate (its inference server reported none), not a count' })
  @IsOptional()
  @IsBoolean()
  usageEstimated?: boolean;
}

export const FAILURE_CAUSES = ['REQUEST', 'OPERATOR'] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

export class FailJobDto {
  @ApiProperty() @IsString() @Length(1, 64) leaseToken!: string;
  @ApiProperty({ example: 'inference server answered 503' }) @IsString() @Length(1, 500) reason!: string;
  @ApiProperty() @IsBoolean() retryable!: boolean;
  /**
   * Who caused the failure: REQUEST when the inference server refused the prompt (a 4xx other
   * than 408/429), OPERATOR otherwise. Absent (older agents) means OPERATOR.
   */
  @ApiPropertyOptional({ enum: FAILURE_CAUSES }) @IsOptional() @IsIn(FAILURE_CAUSES) cause?: FailureCause;
}

export class ObligationsQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 40) series?: string;
  @ApiPropertyOptional({ enum: ['FUNDING', 'OPEN', 'CLOSED'] }) @IsOptional() @IsIn(['FUNDING', 'OPEN', 'CLOSED']) status?:
    'FUNDING' | 'OPEN' | 'CLOSED';
}

export class JobsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['QUEUED', 'DISPATCHED', 'LEASED', 'COMPLETED', 'FAILED'] })
  @IsOptional()
  @IsIn(['QUEUED', 'DISPATCHED', 'LEASED', 'COMPLETED', 'FAILED'])
  status?: 'QUEUED' | 'DISPATCHED' | 'LEASED' | 'COMPLETED' | 'FAILED';
}

export class QualityQueryDto extends PageQueryDto {}

export const MAX_BATCH_JOBS = 100;

/** Checked by its compiled schema first (see SchemaChecked): up to 100 jobs per request. */
@SchemaChecked()
@CharBudget(MAX_BATCH_CHARS)
export class SubmitJobsDto {
  @ApiProperty({ type: [SubmitJobDto], maxItems: MAX_BATCH_JOBS })
  @ValidateNested({ each: true })
  @Type(() => SubmitJobDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_JOBS)
  jobs!: SubmitJobDto[];
}

export class NodeCompletionDto extends CompleteJobDto {
  @ApiProperty() @IsUUID() jobId!: string;
}

@SchemaChecked()
@CharBudget(MAX_REPORT_CHARS)
export class CompletionsDto {
  @ApiProperty({ type: [NodeCompletionDto], maxItems: MAX_COMPLETIONS })
  @ValidateNested({ each: true })
  @Type(() => NodeCompletionDto)
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_COMPLETIONS)
  completions!: NodeCompletionDto[];
}
