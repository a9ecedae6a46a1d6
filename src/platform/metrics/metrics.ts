import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Queues } from '../queues/queues.js';

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly dbReads = new Counter({
    name: 'db_reads_total',
    help: 'Read-only queries (market data, lists, statements) by where they ran: replica or primary',
    labelNames: ['target'],
    registers: [this.registry],
  });
  private readonly replicaLagMs = new Gauge({
    name: 'db_replica_lag_ms',
    help: 'Replica lag at the last probe, in ms (0 when caught up)',
    registers: [this.registry],
  });

  constructor(queues: Queues) {
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    new Gauge({
      name: 'bullmq_queue_jobs',
      help: 'BullMQ jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        for (const queue of queues.all()) {
          // A scrape while Redis is down still answers, just without queue depths.
          const counts = await queue.getJobCounts(...JOB_STATES).catch(() => undefined);
          if (!counts) continue;
          for (const state of JOB_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }
      },
    });
  }

  readServed(target: 'replica' | 'primary'): void {
    this.dbReads.inc({ target });
  }

  replicaLag(ms: number): void {
    this.replicaLagMs.set(Number.isFinite(ms) ? ms : -1);
  }

  /** Reads served so far by the replica and by the primary. */
  async readsServed(): Promise<{ replica: number; primary: number }> {
    const { values } = await this.dbReads.get();
    const of = (t: string) => values.find((v) => v.labels.target === t)?.value ?? 0;
    return { replica: of('replica'), primary: of('primary') };
  }

  /** Express middleware: the route label is the matched pattern, so ids do not explode cardinality. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const end = this.httpDuration.startTimer();
      res.on('finish', () => {
        const route = req.route ? `${req.baseUrl}${(req.route as { path: string }).path}` : 'unmatched';
        end({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }
}
