import type { INestApplication } from '@nestjs/common';
import express from 'express';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The built console (vite → dist/web) served by the API process: /console (the clearing
 * console) and /market (the public board). Found next to the compiled server, or under the
 * working directory's dist/ when the server runs from sources (tests).
 */
export function serveStaticPages(app: INestApplication): void {
  const dir = [resolve(import.meta.dirname, '..', '..', 'web'), resolve(process.cwd(), 'dist', 'web')].find((d) =>
    existsSync(join(d, 'index.html')),
  );
  if (!dir) return;
  app.use(
    '/console',
    express.static(dir, {
      index: 'index.html',
      maxAge: '1h',
      setHeaders: (res, path) => path.endsWith('.html') && res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  app.use('/market', (req: express.Request, res: express.Response, next: express.NextFunction) =>
    req.method === 'GET' && (req.path === '/' || req.path === '')
      ? res.setHeader('Cache-Control', 'no-cache').sendFile(join(dir, 'market.html'))
      : next(),
  );
}
