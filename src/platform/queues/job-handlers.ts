import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { JOB_HANDLER } from './job-handler.decorator.js';
import { JOBS, type JobName, type JobPayloads } from './job-registry.js';

type Handler = (payload: unknown, meta: { jobId: string; attempt: number }) => Promise<unknown>;

/**
 * Finds every @JobHandler at boot and refuses to start if a registered job has no handler, two
 * handlers, or a handler names a job the registry does not know.
 */
@Injectable()
export class JobHandlers implements OnModuleInit {
  private readonly handlers = new Map<JobName, Handler>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const problems: string[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(proto)) {
        const method = instance[methodName];
        if (typeof method !== 'function') continue;
        const job = this.reflector.get<JobName | undefined>(JOB_HANDLER, method);
        if (!job) continue;
        if (!(job in JOBS)) problems.push(`${wrapper.name}.${methodName} handles unknown job ${job}`);
        else if (this.handlers.has(job)) problems.push(`job ${job} has two handlers`);
        else this.handlers.set(job, method.bind(instance) as Handler);
      }
    }
    for (const job of Object.keys(JOBS) as JobName[]) {
      if (!this.handlers.has(job)) problems.push(`job ${job} has no @JobHandler`);
    }
    if (problems.length) throw new Error(`Job registry is inconsistent:\n  - ${problems.join('\n  - ')}`);
  }

  async run<K extends JobName>(name: K, payload: JobPayloads[K], meta: { jobId: string; attempt: number }): Promise<unknown> {
    const handler = this.handlers.get(name);
    if (!handler) throw new Error(`no handler for job ${name}`);
    return handler(payload, meta);
  }

  has(name: string): name is JobName {
    return this.handlers.has(name as JobName);
  }
}
