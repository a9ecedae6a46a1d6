import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/processes.js';

const DIR = join(ROOT, 'deploy', 'k8s');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}

// kubernetes-models carries the Kubernetes OpenAPI schemas compiled for ajv: `new Kind(obj).validate()`
// throws on any field the API server would refuse. Loaded lazily: a checkout without dev
// dependencies installed skips with a message instead of failing to import.
async function load(): Promise<{ parse: (text: string) => unknown[] } | undefined> {
  try {
    const yaml = await import('yaml');
    const probe = 'kubernetes-models/v1/ConfigMap';
    await import(/* @vite-ignore */ probe);
    return { parse: (text) => yaml.parseAllDocuments(text).map((d) => d.toJS() as unknown) };
  } catch {
    return undefined;
  }
}

async function modelOf(m: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : [undefined, m.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${m.kind}` : `kubernetes-models/${version}/${m.kind}`;
  const mod = (await import(/* @vite-ignore */ path)) as Record<string, new (data: unknown) => { validate(): void }>;
  return mod[m.kind];
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');

describe('Kubernetes manifests (deploy/k8s)', async () => {
  const yaml = await load();
  if (!yaml) process.stderr.write('[k8s] kubernetes-models/yaml not installed (npm ci installs them): schema checks skipped\n');

  it.runIf(yaml)('every document is valid against the Kubernetes API schema', async () => {
    for (const file of files) {
      for (const doc of yaml!.parse(readFileSync(join(DIR, file), 'utf8')) as Manifest[]) {
        const Model = await modelOf(doc);
        expect(() => new Model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`).not.toThrow();
      }
    }
  });

  it.runIf(yaml)('the validator does refuse a broken manifest', async () => {
    const Model = await modelOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } });
    expect(() =>
      new Model({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'three' } }).validate(),
    ).toThrow();
  });

  it('kustomization lists every manifest; no secret value inline; probes on /health/live and /health/ready', () => {
    const kustomization = readFileSync(join(DIR, 'kustomization.yaml'), 'utf8');
    for (const f of files) expect(kustomization).toContain(`- ${f}`);
    const all = files.map((f) => readFileSync(join(DIR, f), 'utf8')).join('\n');
    expect(all).not.toMatch(/kind:\s*Secret\b/);
    expect(all).not.toMatch(/postgres(ql)?:\/\/[^\s'"]*:[^\s'"@]+@/);
    expect(all).not.toMatch(/tck_[A-Za-z0-9_-]{20,}/);
    expect(all).toContain('secretKeyRef: { name: tokenclear-secrets, key: DATABASE_URL }');
    const api = readFileSync(join(DIR, 'api-deployment.yaml'), 'utf8');
    expect(api).toMatch(/livenessProbe:\s*\n\s*httpGet: \{ path: \/health\/live/);
    expect(api).toMatch(/readinessProbe:[\s\S]*?httpGet: \{ path: \/health\/ready/);
  });
});
