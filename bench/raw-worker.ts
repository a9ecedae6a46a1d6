// A reference worker for bench:delivery, in its own process as an agent is: a BullMQ Worker with
// a no-op processor on one queue. Args: <redis url> <prefix> <queue> <concurrency>. Says "ready"
// on stdout once connected; SIGTERM closes it.
import { Worker } from 'bullmq';

const [redisUrl, prefix, name, concurrency] = process.argv.slice(2);
const u = new URL(redisUrl);
const worker = new Worker(name, async () => undefined, {
  connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null },
  prefix,
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
