import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { randomUUID } from 'node:crypto';
import { Logger } from 'nestjs-pino';
import { toProblem } from '../errors/problem.js';
import { Metrics } from '../metrics/metrics.js';
import { serveStaticPages } from './static-pages.js';
import { validationPipe } from './validation.js';

const BODY_LIMIT = '1mb';

/** HTTP concerns shared by main.ts and the e2e harness, so tests speak to the same app. */
export function configureApp(app: INestApplication): void {
  app.useLogger(app.get(Logger));
  // /v1/stream (src/streams) on the HTTP server's own port: plain ws, no socket.io protocol.
  app.useWebSocketAdapter(new WsAdapter(app));
  validationPipe.prepare();
  const http = app.getHttpAdapter().getInstance() as express.Express;
  http.disable('x-powered-by');
  http.set('trust proxy', 'loopback');
  app.use(app.get(Metrics).middleware());
  app.use(express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));
  // Bank files (camt.053 XML, statement CSV) are uploaded as they come from the bank.
  app.use(express.text({ limit: '10mb', type: ['application/xml', 'text/xml', 'text/csv'] }));
  // Body-parser failures happen before Nest routing; answer them as problem+json too.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    // Body parsing fails before the request logger has assigned an id; give this answer one too.
    const assigned = (req as { id?: unknown }).id;
    const requestId = typeof assigned === 'string' || typeof assigned === 'number' ? String(assigned) : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const problem = { ...toProblem(err), instance: req.originalUrl, requestId };
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  });

  SwaggerModule.setup('docs', app, openApiDocument(app), { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
  serveStaticPages(app);
}

/** /openapi.json, also built without a server by `npm run client:generate` (src/client/generate.ts). */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('TokenClear API')
      .setDescription('Clearing, settlement and physical delivery of AI inference token futures (CNY).')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key (tck_…)' })
      .build(),
  );
}
