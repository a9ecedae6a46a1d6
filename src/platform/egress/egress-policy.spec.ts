import { createServer, type Server } from 'node:http';
import { EgressPolicy, EgressRefused, isPublicAddress } from './egress-policy.js';
import { guardedPost, type Resolver } from './guarded-post.js';

describe('egress policy: webhooks cannot reach inside', () => {
  it.each([
    ['127.0.0.1', false],
    ['127.1.2.3', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false], // cloud metadata
    ['100.100.100.200', false], // Alibaba Cloud metadata (carrier-grade NAT range)
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
    ['fd00:ec2::254', false], // AWS metadata over IPv6 (unique local)
    ['fe80::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['8.8.8.8', true],
    ['203.119.25.1', true],
    ['2400:3200::1', true],
  ])('%s public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  const policy = new EgressPolicy(['receiver.test']);
  const refused = (url: string) => {
    try {
      policy.checkUrl(url);
      return 'accepted';
    } catch (err) {
      return (err as EgressRefused).reason;
    }
  };

  it('refuses at submit: plain http, credentials, localhost, inside IP literals', () => {
    expect(refused('http://hooks.example.com/x')).toBe('SCHEME');
    expect(refused('ftp://hooks.example.com/x')).toBe('SCHEME');
    expect(refused('https://user:pw@hooks.example.com/x')).toBe('CREDENTIALS');
    expect(refused('https://localhost/x')).toBe('HOST');
    expect(refused('https://api.localhost/x')).toBe('HOST');
    for (const host of [
      '127.0.0.1',
      '169.254.169.254',
      '10.0.0.7',
      '[::1]',
      '[fd00::1]',
      '[::ffff:127.0.0.1]',
      '0x7f000001',
      '2130706433',
    ]) {
      expect([host, refused(`https://${host}:8443/hook`)]).toEqual([host, 'ADDRESS']);
    }
    expect(refused('https://hooks.example.com/x')).toBe('accepted');
    expect(refused('http://receiver.test:8080/x')).toBe('accepted');
  });

  describe('at send time', () => {
    let receiver: Server;
    let port = 0;
    let hits = 0;
    beforeAll(async () => {
      receiver = createServer((req, res) => {
        hits++;
        req.resume();
        res.end('x'.repeat(100_000));
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      port = (receiver.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

    // A name that resolves to loopback at send time (the DNS-rebinding case): `vm`/`localhost`
    // are in /etc/hosts here, and a resolver that answers 127.0.0.1 for any name stands in for a
    // hostile DNS server in the second case.
    const rebinding: Resolver = (_host, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);

    it('a name resolving to 127.0.0.1 is refused and the receiver sees no request', async () => {
      const open = new EgressPolicy(['plain-http.test']);
      const before = hits;
      await expect(
        guardedPost(open, `https://hooks.rebind.test:${port}/h`, {}, '{}', {
          timeoutMs: 2_000,
          maxResponseBytes: 1024,
          resolve: rebinding,
        }),
      ).rejects.toMatchObject({ reason: 'ADDRESS' });
      await expect(
        guardedPost(new EgressPolicy([]), `https://vm:${port}/h`, {}, '{}', { timeoutMs: 2_000, maxResponseBytes: 1024 }),
      ).rejects.toBeInstanceOf(EgressRefused);
      expect(hits).toBe(before);
    });

    it('an allow-listed host is reached over http, and the response is capped', async () => {
      const dev = new EgressPolicy(['127.0.0.1']);
      const res = await guardedPost(dev, `http://127.0.0.1:${port}/h`, { 'content-type': 'application/json' }, '{"a":1}', {
        timeoutMs: 2_000,
        maxResponseBytes: 1_000,
      });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(1_000);
    });
  });
});
