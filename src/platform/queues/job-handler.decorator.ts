import { SetMetadata } from '@nestjs/common';
import type { JobName } from './job-registry.js';

export const JOB_HANDLER = 'tc:job-handler';

/** Marks a provider method as the handler of one registered job. Exactly one per job. */
export const JobHandler = (name: JobName): MethodDecorator => SetMetadata(JOB_HANDLER, name);
