import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { createRedis, type RedisClient } from '../platform/redis/redis-factory.js';

/** A delivery job at one dispatch attempt. */
export interface QueuedJob {
  jobId: string;
  attempt: number;
}

/** What a node-queue entry carries: one job, or a chunk of jobs dispatched together. */
export type NodeQueueEntry = QueuedJob | { jobs: QueuedJob[] };

export const entryJobs = (entry: NodeQueueEntry): QueuedJob[] => ('jobs' in entry ? entry.jobs : [entry]);

/**
 * Jobs per entry at most. A dispatch batch's jobs for one node go in chunks: one BullMQ add,
 * take (lock) and finish per chunk instead of per job — those Redis round trips are most of
 * what a job costs the service. A lease splits a chunk that does not fit what the agent asked.
 */
export const CHUNK = 16;

const MAX_REMEMBERED = 50_000;
// A finished entry is dropped at once: Postgres keeps the record; an entry added again under the
// same id later (the reaper's restore) finds its job moved on and is finished as superseded.
const ENTRY_OPTIONS = { removeOnComplete: true, removeOnFail: { age: 24 * 3600 } };

/** BullMQ id of a delivery job's own entry on a node queue: one per dispatch attempt. */
export const nodeEntryId = (jobId: string, attempt: number): string => `${jobId}.${attempt}`;

/** BullMQ id of a chunk's entry: named after its first job. */
const chunkEntryId = (first: QueuedJob): string => `c.${first.jobId}.${first.attempt}`;

/** A fresh BullMQ lock token for taking an entry. */
export const newLock = (): string => randomBytes(16).toString('base64url');

/**
 * The lease token of the jobs of an entry taken from a node queue: the entry's id and its BullMQ
 * lock token, so whoever holds the lease (an agent's report, a heartbeat, the reaper) can finish,
 * extend or drop that entry without asking Redis which entry a job came in.
 */
export const leaseToken = (entryId: string, lock: string): string => `${entryId}~${lock}`;

export function parseLeaseToken(token: string): { entryId: string; lock: string } | null {
  const at = token.lastIndexOf('~');
  return at > 0 ? { entryId: token.slice(0, at), lock: token.slice(at + 1) } : null;
}

/**
 * One BullMQ queue per node (`node-<id>`), consumed by BullMQ's manual processing on behalf of
 * the node's agent, which never sees Redis: fetching a job with a token takes its lock, the lock
 * is the lease (duration = lease time, extended on agent heartbeats). Postgres stays the record of
 * who holds which lease; these queues only carry the work, so losing one loses nothing (the
 * reaper re-adds what Postgres says is dispatched).
 */
@Injectable()
export class NodeQueues implements OnApplicationShutdown {
  private readonly logger = new Logger(NodeQueues.name);
  private readonly queues = new Map<string, Queue<NodeQueueEntry>>();
  private readonly workers = new Map<string, Worker<NodeQueueEntry>>();
  /** BullMQ leaves passed-in connections open: closed at shutdown. */
  private readonly connections: RedisClient[] = [];
  /** In-process wake-up for long-polling lease requests when this process adds work. */
  private readonly added = new EventEmitter().setMaxListeners(0);

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  private name(nodeId: string): string {
    return `node-${nodeId}`;
  }

  private connect(role: 'producer' | 'lease'): RedisClient {
    const c = createRedis(this.config, role, { autoPipelining: true });
    this.connections.push(c);
    return c;
  }

  queue(nodeId: string): Queue<NodeQueueEntry> {
    let q = this.queues.get(nodeId);
    if (!q) {
      q = new Queue<NodeQueueEntry>(this.name(nodeId), {
        connection: this.connect('producer'),
        prefix: this.config.queuePrefix,
      });
      q.on('error', (err) => this.logger.warn({ node: nodeId, err: err.message }, 'node queue connection error'));
      this.queues.set(nodeId, q);
    }
    return q;
  }

  private worker(nodeId: string): Worker<NodeQueueEntry> {
    let w = this.workers.get(nodeId);
    if (!w) {
      w = new Worker<NodeQueueEntry>(this.name(nodeId), null, {
        // Fail fast while Redis is away (the lease request answers empty), as producers do.
        // Auto-pipelining: the takes of one lease request (issued together) go out in one write.
        // Safe here: this worker never blocks (manual processing, block: false).
        connection: this.connect('lease'),
        prefix: this.config.queuePrefix,
        lockDuration: this.config.delivery.leaseMs,
        autorun: false,
      });
      w.on('error', (err) => this.logger.warn({ node: nodeId, err: err.message }, 'node lease worker connection error'));
      this.workers.set(nodeId, w);
    }
    return w;
  }

  /** Same id twice is one entry (BullMQ ignores a duplicate job id), so re-adding is safe. */
  async add(nodeId: string, entry: QueuedJob): Promise<void> {
    await this.addMany(nodeId, [entry]);
  }

  /** A dispatch batch's jobs for this node, in chunks, in one round trip. */
  async addMany(nodeId: string, jobs: QueuedJob[]): Promise<void> {
    const entries: { data: NodeQueueEntry; id: string }[] = [];
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const chunk = jobs.slice(i, i + CHUNK);
      entries.push(
        chunk.length === 1
          ? { data: chunk[0], id: nodeEntryId(chunk[0].jobId, chunk[0].attempt) }
          : { data: { jobs: chunk }, id: chunkEntryId(chunk[0]) },
      );
    }
    await this.queue(nodeId).addBulk(entries.map((e) => ({ name: 'deliver', data: e.data, opts: { jobId: e.id, ...ENTRY_OPTIONS } })));
    this.added.emit(nodeId);
  }

  /**
   * Puts back the entry of a job Postgres says is dispatched to the node (the reaper, for a job
   * that sat too long). Missing (Redis lost it): added again. Waiting: left alone. Taken by a
   * lease request that never recorded its lease (the process died between the two, or Postgres
   * refused), or finished: the entry is removed and added again, since re-adding an id BullMQ
   * still holds does nothing. While its lock is held (a lease request is recording it right now)
   * BullMQ refuses the removal and this throws; the reaper tries again on a later pass. A job that
   * went in a chunk gets an entry of its own: should the chunk still come round, the job has moved
   * on by then and the lease passes over it.
   */
  async restore(nodeId: string, entry: QueuedJob): Promise<void> {
    const existing = await Job.fromId<NodeQueueEntry>(this.queue(nodeId), nodeEntryId(entry.jobId, entry.attempt));
    if (existing) {
      const state = await existing.getState();
      if (state === 'waiting' || state === 'prioritized' || state === 'delayed') return;
      await existing.remove();
    }
    await this.add(nodeId, entry);
  }

  /** Takes the next entry under a lock owned by `token`, or null when the queue is empty. */
  async take(nodeId: string, token: string): Promise<Job<NodeQueueEntry> | null> {
    const job = (await this.worker(nodeId).getNextJob(token, { block: false })) ?? null;
    if (job) this.remember(nodeId, job);
    return job;
  }

  /**
   * Entries this process handed out, kept until finished so finishing one costs one Redis call,
   * not two (a completion that reaches another process reads the entry from Redis instead).
   */
  private readonly taken = new Map<string, Job<NodeQueueEntry>>();

  private remember(nodeId: string, job: Job<NodeQueueEntry>): void {
    // Bounded: entries whose lease simply expired are never finished here.
    if (this.taken.size >= MAX_REMEMBERED) this.taken.delete(this.taken.keys().next().value!);
    this.taken.set(`${nodeId}/${job.id}`, job);
  }

  private async entry(nodeId: string, entryId: string): Promise<Job<NodeQueueEntry> | undefined> {
    const key = `${nodeId}/${entryId}`;
    const known = this.taken.get(key);
    this.taken.delete(key);
    return known ?? (await Job.fromId<NodeQueueEntry>(this.queue(nodeId), entryId));
  }

  /** Resolves when this process adds work for the node, or after `ms`. */
  waitForWork(nodeId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.added.off(nodeId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.added.on(nodeId, done);
      signal?.addEventListener('abort', done);
    });
  }

  async extend(nodeId: string, entryId: string, token: string): Promise<void> {
    const job = this.taken.get(`${nodeId}/${entryId}`) ?? (await Job.fromId<NodeQueueEntry>(this.queue(nodeId), entryId));
    await job?.extendLock(token, this.config.delivery.leaseMs);
  }

  /** Marks the entry a lease token names done (its jobs are finished); best effort. */
  async finishLease(nodeId: string, token: string, result: string): Promise<void> {
    const lease = parseLeaseToken(token);
    if (lease) await this.finish(nodeId, lease.entryId, lease.lock, result);
  }

  /** Marks the entry done; best effort — the Postgres state already decided. */
  async finish(nodeId: string, entryId: string, token: string, result: string): Promise<void> {
    try {
      const job = await this.entry(nodeId, entryId);
      await job?.moveToCompleted(result, token, false);
    } catch (err) {
      this.logger.debug(
        { node: nodeId, entry: entryId, err: (err as Error).message },
        'node queue entry not finished (lock lost); harmless',
      );
    }
  }

  /** Drops an entry whose lease expired or that was superseded; best effort. */
  async discard(nodeId: string, entryId: string): Promise<void> {
    try {
      await (await this.entry(nodeId, entryId))?.remove();
    } catch (err) {
      this.logger.debug({ node: nodeId, entry: entryId, err: (err as Error).message }, 'node queue entry not removed; harmless');
    }
  }

  async depth(nodeId: string): Promise<number> {
    return this.queue(nodeId).getWaitingCount();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.close(true).catch(() => undefined)));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    for (const c of this.connections.splice(0)) c.disconnect();
  }
}
