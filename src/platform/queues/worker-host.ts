import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { JobHandlers } from './job-handlers.js';
import { JOBS, QUEUE_CONCURRENCY, QUEUE_NAMES, schedules, type JobName, type JobPayloads } from './job-registry.js';
import { Queues } from './queues.js';
import { createRedis, infoOfMasters, type RedisClient } from '../redis/redis-factory.js';
import { assessRedis, parseRedisInfo } from './redis-safety.js';

function redactedUrl(url: string): string {
  const u = new URL(url);
  u.password = '';
  u.username = '';
  return u.toString();
}

/** Runs the BullMQ workers and upserts repeatable schedules, in the worker role only. */
@Injectable()
export class WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerHost.name);
  private readonly workers: Worker[] = [];
  private readonly connections: RedisClient[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly handlers: JobHandlers,
    private readonly queues: Queues,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'api') return;
    await this.checkRedis();
    for (const queue of QUEUE_NAMES) {
      const connection = createRedis(this.config, 'worker');
      this.connections.push(connection);
      const worker = new Worker(queue, (job: Job) => this.process(job), {
        connection,
        prefix: this.config.queuePrefix,
        concurrency: QUEUE_CONCURRENCY[queue],
        lockDuration: this.config.workerLockMs,
        stalledInterval: this.config.workerLockMs,
      });
      worker.on('failed', (job, err) => this.logger.warn({ queue, job: job?.name, jobId: job?.id, err: err.message }, 'job failed'));
      worker.on('error', (err) => this.logger.warn({ queue, err: err.message }, 'worker connection error'));
      this.workers.push(worker);
    }
    // Schedules are upserted by id, so every worker copy can do this at boot without duplicates.
    for (const s of schedules(this.config)) {
      const repeat = 'pattern' in s.repeat ? { pattern: s.repeat.pattern, tz: this.config.businessTimeZone } : { every: s.repeat.every };
      await this.queues
        .get(JOBS[s.job].queue)
        .upsertJobScheduler(s.id, repeat, {
          name: s.job,
          data: s.payload,
          opts: JOBS[s.job].options,
        })
        .catch((err: Error) => this.logger.warn({ schedule: s.id, err: err.message }, 'could not upsert schedule yet'));
    }
  }

  /** Refuses an evicting Redis before any worker starts (see redis-safety.ts). */
  private async checkRedis(): Promise<void> {
    const probe = createRedis(this.config, 'probe', { noReconnect: true });
    probe.on('error', () => undefined);
    let infos: { node?: string; info: string }[];
    try {
      await probe.connect();
      infos = await infoOfMasters(probe);
    } catch (err) {
      // Workers wait for Redis anyway; the check runs when it can, so say it could not.
      this.logger.warn({ err: (err as Error).message }, 'could not check the Redis eviction policy (Redis unreachable at start)');
      return;
    } finally {
      probe.disconnect();
    }
    // On a cluster every master holds some queue's keys: each must refuse eviction.
    for (const { node, info } of infos) {
      const { warning } = assessRedis(parseRedisInfo(info), node ? `cluster node ${node}` : redactedUrl(this.config.redisUrl));
      if (warning) this.logger.warn(warning);
    }
  }

  private async process(job: Job): Promise<unknown> {
    if (!this.handlers.has(job.name)) throw new Error(`unregistered job ${job.name}`);
    const name = job.name as JobName;
    return this.handlers.run(name, job.data as JobPayloads[typeof name], {
      jobId: String(job.id),
      attempt: job.attemptsMade + 1,
    });
  }

  /**
   * Waits for running jobs to finish (BullMQ close is graceful), but not past the grace period:
   * with Redis gone close() never resolves, and a stuck job is retried elsewhere anyway.
   */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      this.workers.map(async (worker) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          worker.close().then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.config.shutdownGraceMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          this.logger.warn({ queue: worker.name }, 'worker did not drain in time; forcing close');
          // Bounded too: a close already under way (e.g. on a cluster that lost a master while a
          // blocking read was out) may never settle, and shutdown must not wait on it.
          await Promise.race([worker.close(true).catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
        }
      }),
    );
    // BullMQ leaves a passed-in connection open.
    for (const c of this.connections.splice(0)) c.disconnect();
  }
}
