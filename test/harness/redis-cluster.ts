import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-process.js';

const run = promisify(execFile);

interface ClusterNode {
  port: number;
  dir: string;
  child: ChildProcess;
}

/** `redis-cli -p port <args>` and its stdout. */
async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A private Redis Cluster on loopback: 3 masters + 3 replicas by default, no persistence (a test
 * cluster), a short node timeout so a killed master's replica is promoted within seconds.
 */
export class RedisCluster {
  private forget = () => undefined as void;

  private constructor(
    private readonly nodes: ClusterNode[],
    private readonly nodeTimeoutMs: number,
    private readonly masterCount: number,
  ) {}

  static async start(opts: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {}): Promise<RedisCluster> {
    const masters = opts.masters ?? 3;
    const count = masters * (1 + (opts.replicasPerMaster ?? 1));
    const nodeTimeoutMs = opts.nodeTimeoutMs ?? 1_500;
    const nodes: ClusterNode[] = [];
    const cluster = new RedisCluster(nodes, nodeTimeoutMs, masters);
    // A test process that ends without its afterAll (a hook timeout, a crash) must not leave
    // six redis-servers behind.
    const orphans = () =>
      nodes.forEach((n) => {
        n.child.kill('SIGKILL');
        rmSync(n.dir, { recursive: true, force: true });
      });
    process.once('exit', orphans);
    cluster.forget = () => process.off('exit', orphans);
    try {
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        const dir = mkdtempSync(join(tmpdir(), 'tc-rcluster-'));
        // prettier-ignore
        const child = spawn('redis-server', [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
          '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
          '--cluster-node-timeout', String(nodeTimeoutMs),
          '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--logfile', join(dir, 'log'),
          // A test cluster: a replica always stands for election, however long since it last synced.
          '--cluster-replica-validity-factor', '0', '--repl-diskless-sync-delay', '0',
        ], { stdio: 'ignore' });
        nodes.push({ port, dir, child });
      }
      for (const n of nodes) await until(`node ${n.port}`, async () => (await cli(n.port, 'PING')).trim() === 'PONG', 10_000);
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          String(opts.replicasPerMaster ?? 1),
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
      await cluster.waitHealthy();
      await cluster.waitReplicasSynced();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** `host:port,…` as REDIS_CLUSTER_NODES takes it. */
  get nodesEnv(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** A node's URL, for things that only take one (it is not what clients use to reach the cluster). */
  get seedUrl(): string {
    return `redis://127.0.0.1:${this.alive()[0].port}`;
  }

  private alive(): ClusterNode[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  /** Ports of the nodes that are masters now, and own slots. */
  async masters(): Promise<number[]> {
    const out = await cli(this.alive()[0].port, 'CLUSTER', 'NODES');
    return out
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2]?.includes('master') && !f[2].includes('fail') && f.length > 8)
      .map((f) => Number(/:(\d+)@/.exec(f[1])![1]));
  }

  /** Port of the master that owns a key's slot. */
  async masterOf(key: string): Promise<number> {
    const port = this.alive()[0].port;
    const slot = Number((await cli(port, 'CLUSTER', 'KEYSLOT', key)).trim());
    const out = await cli(port, 'CLUSTER', 'NODES');
    for (const line of out.split('\n')) {
      const f = line.split(' ');
      if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
      for (const range of f.slice(8)) {
        const [a, b] = range.split('-').map(Number);
        if (slot >= a && slot <= (b ?? a)) return Number(/:(\d+)@/.exec(f[1])![1]);
      }
    }
    throw new Error(`no master owns the slot of ${key}`);
  }

  /** Every live node agrees the cluster is ok and every slot is served. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await until(
      'cluster_state:ok on every node',
      async () => {
        for (const n of this.alive()) {
          const info = await cli(n.port, 'CLUSTER', 'INFO');
          if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** Every replica has finished its first sync: killing a master now loses at most the last writes. */
  async waitReplicasSynced(timeoutMs = 30_000): Promise<void> {
    await until(
      'replicas in sync',
      async () => {
        for (const n of this.alive()) {
          const info = await cli(n.port, 'INFO', 'replication');
          if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** SIGKILL a node, as a crash would; the cluster promotes its replica after the node timeout. */
  async kill(port: number): Promise<void> {
    const n = this.nodes.find((x) => x.port === port);
    if (!n || n.child.exitCode !== null || n.child.signalCode !== null) return;
    const exited = new Promise((r) => n.child.once('exit', r));
    n.child.kill('SIGKILL');
    await exited;
  }

  /** Waits until a replica of the killed master has taken over its slots and the cluster is ok again. */
  async waitFailover(killedPort: number, timeoutMs = 30_000): Promise<void> {
    // A suspected master (pfail) drops out of masters() at once, so count them: the number of
    // masters is whole again only once a replica won the election.
    await until(
      'replica promotion',
      async () => {
        const m = await this.masters();
        return m.length >= this.masterCount && !m.includes(killedPort);
      },
      timeoutMs,
    );
    await this.waitHealthy(timeoutMs + this.nodeTimeoutMs);
  }

  async stop(): Promise<void> {
    this.forget();
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.child.exitCode === null && n.child.signalCode === null) {
          const exited = new Promise((r) => n.child.once('exit', r));
          n.child.kill('SIGKILL');
          await exited;
        }
        rmSync(n.dir, { recursive: true, force: true });
      }),
    );
  }
}
