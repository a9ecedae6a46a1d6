import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/processes.js';

// STYLE.md §1: only repositories touch Prisma or SQL. Services hold rules, controllers hold HTTP,
// and both reach the database through repositories (transactions through TransactionRunner).
const ALLOWED = [
  /\.repository\.ts$/,
  /^src\/platform\/platform\.module\.ts$/,
  /^src\/platform\/prisma\//,
  /^src\/generated\//,
  /\.spec\.ts$/,
];

const FORBIDDEN: { rule: string; pattern: RegExp }[] = [
  { rule: 'imports PrismaService', pattern: /import\s[^;]*\bPrismaService\b[^;]*from/ },
  { rule: 'imports the generated Prisma client (values)', pattern: /import\s+(?!type\b)[^;]*from\s+'[./]*generated\/prisma\/client\.js'/ },
  { rule: 'uses this.prisma', pattern: /\bthis\.prisma\b/ },
  { rule: 'opens a Prisma transaction', pattern: /\.\$transaction\s*\(/ },
  { rule: 'runs SQL', pattern: /\.\$(queryRaw|executeRaw|queryRawUnsafe|executeRawUnsafe)\b/ },
  {
    rule: 'calls a Prisma model',
    pattern:
      /\b(tx|db|prisma|root|client)\.[a-z][A-Za-z]+\.(findMany|findFirst|findFirstOrThrow|findUnique|findUniqueOrThrow|create|createMany|createManyAndReturn|update|updateMany|upsert|delete|deleteMany|count|aggregate|groupBy)\s*\(/,
  },
];

/** The rules a file breaks (empty when it keeps to STYLE.md §1). Exported shape for the self-test below. */
export function prismaViolations(path: string, source: string): string[] {
  if (ALLOWED.some((a) => a.test(path))) return [];
  // Comments may name what they like.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return FORBIDDEN.filter((f) => f.pattern.test(code)).map((f) => f.rule);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' || name === 'web' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture: Prisma and SQL only in repositories', () => {
  it('no service, controller, processor or other non-repository file in src/ touches Prisma or SQL', () => {
    const offenders = sources(join(ROOT, 'src'))
      .map((path) => {
        const rel = relative(ROOT, path);
        return { rel, rules: prismaViolations(rel, readFileSync(path, 'utf8')) };
      })
      .filter((o) => o.rules.length > 0)
      .map((o) => `${o.rel}: ${o.rules.join(', ')}`);
    expect(offenders).toEqual([]);
  });

  it('the rule catches a service that uses Prisma (and lets a repository do it)', () => {
    const service = `import { PrismaService } from '../platform/prisma/prisma.service.js';
      export class X { constructor(private readonly prisma: PrismaService) {}
        list() { return this.prisma.marginCall.findMany({ take: 10 }); } }`;
    expect(prismaViolations('src/settlement/margin-calls.service.ts', service)).toEqual(
      expect.arrayContaining(['imports PrismaService', 'uses this.prisma']),
    );
    expect(prismaViolations('src/markets/x.controller.ts', 'async f(tx) { await tx.$queryRaw`SELECT 1`; }')).toEqual(['runs SQL']);
    expect(prismaViolations('src/markets/x.service.ts', 'run() { return this.tx.run((tx) => tx.series.findMany({})); }')).toEqual([
      'calls a Prisma model',
    ]);
    expect(prismaViolations('src/settlement/margin-calls.repository.ts', service)).toEqual([]);
    expect(prismaViolations('src/markets/x.service.ts', '// this.prisma.series.findMany() was here\nrun() {}')).toEqual([]);
  });
});
