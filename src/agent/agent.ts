import { createApiClient, type ApiClient } from '../client/api.js';
import type { AgentConfig } from './agent-config.js';
import { answered, DeliveryLoop } from './delivery-loop.js';
import type { InferenceEngine } from './inference/inference.js';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const MAX_BACKOFF_MS = 30_000;

/**
 * The node agent: a process on an operator's machine that talks HTTP only. It keeps its node
 * ONLINE with heartbeats (jittered, so a fleet does not beat in lockstep; each also extends the
 * node's leases), leases and runs delivery jobs, and keeps trying, with backoff, while the API is
 * unreachable. On stop it leases nothing more, reports the jobs in hand, then exits.
 */
export class NodeAgent {
  private running = false;
  private wake?: () => void;
  private failures = 0;
  readonly delivery: DeliveryLoop;
  private readonly api: ApiClient;

  constructor(
    private readonly config: AgentConfig,
    readonly engine: InferenceEngine,
    private readonly log: Log,
  ) {
    this.delivery = new DeliveryLoop(config, engine, log);
    this.api = createApiClient({ baseUrl: config.api, key: config.token });
  }

  async run(): Promise<void> {
    this.running = true;
    this.log('info', 'agent started', {
      node: this.config.nodeId,
      api: this.config.api,
      inference: this.engine.description,
      concurrency: this.config.concurrency,
    });
    const leasing = this.delivery.run();
    while (this.running) {
      const next = await this.beat();
      await this.sleep(next);
    }
    await leasing;
    // Keep beating while the last jobs finish, so their leases do not lapse meanwhile.
    let done = false;
    const draining = this.delivery.drained().then(() => {
      done = true;
    });
    while (!done) {
      const next = await this.beat();
      await Promise.race([this.sleep(next), draining]);
    }
    this.log('info', 'agent stopped', { completed: this.delivery.completed, failed: this.delivery.failed });
  }

  stop(): void {
    this.running = false;
    this.delivery.stop();
    this.wake?.();
  }

  /** Sends one heartbeat; returns how long to wait before the next. */
  private async beat(): Promise<number> {
    try {
      const res = await this.api.POST('/v1/nodes/{id}/heartbeat', {
        params: { path: { id: this.config.nodeId } },
        // Only the leases of the jobs in hand are extended: one this agent never received (or
        // lost in a restart) expires and goes back to dispatch.
        body: { leases: this.delivery.leases() },
        signal: AbortSignal.timeout(5_000),
      });
      const body = answered<{ status: string; nextHeartbeatInMs?: number }>('heartbeat', res);
      if (this.failures > 0) this.log('info', 'API reachable again', { afterFailures: this.failures });
      this.failures = 0;
      this.log('info', 'heartbeat', { status: body.status });
      return jitter(this.config.heartbeatMs);
    } catch (err) {
      this.failures++;
      const wait = Math.min(this.config.heartbeatMs * 2 ** Math.min(this.failures - 1, 10), MAX_BACKOFF_MS);
      this.log('warn', 'heartbeat failed; retrying', { error: (err as Error).message, retryInMs: wait, failures: this.failures });
      return jitter(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** ±10 % so that agents started together drift apart. */
function jitter(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}
