import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { DiscoveryService } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { randomUUID } from 'node:crypto';
import { Logger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { toProblem } from '../errors/problem.js';
import { Metrics } from '../metrics/metrics.js';
import { limitFinder, NO_BODY_LIMIT, routeLimits } from './body-limits.js';
import { serveStaticPages } from './static-pages.js';
import { validationPipe } from './validation.js';

export const BODY_LIMITS = 'tc:body-limits';

/** HTTP concerns shared by main.ts and the e2e harness, so tests speak to the same app. */
export function configureApp(app: INestApplication): void {
  app.useLogger(app.get(Logger));
  // /v1/stream (src/streams) on the HTTP server's own port: plain ws, no socket.io protocol.
  app.useWebSocketAdapter(new WsAdapter(app));
  validationPipe.prepare();
  const http = app.getHttpAdapter().getInstance() as express.Express;
  http.disable('x-powered-by');
  http.set('trust proxy', app.get<AppConfig>(APP_CONFIG).trustProxy);
  app.use(app.get(Metrics).middleware());
  // One JSON parser per limit, chosen before routing by method and path: each route's limit is its
  // DTO's largest valid body (body-limits.ts). A per-route limit rather than one global maximum
  // with a check after parsing: a 6 MB limit on every route would let anyone make any route read
  // and parse 6 MB; here a route reads no more than its own largest valid body.
  const table = routeLimits(
    app
      .get(DiscoveryService)
      .getControllers()
      .map((w) => w.instance as object | undefined)
      .filter((i): i is object => i !== undefined),
  );
  http.set(BODY_LIMITS, table);
  const limitOf = limitFinder(table);
  const parsers = new Map<number, RequestHandler>();
  app.use((req: Request, res: Response, next: NextFunction) => {
    const limit = limitOf(req.method, req.path) ?? NO_BODY_LIMIT;
    let parser = parsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
      parsers.set(limit, parser);
    }
    parser(req, res, next);
  });
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
      .setDescription(
        'Clearing, settlement and physical delivery of AI inference token futures (CNY). ' +
          'Token index methodology (TTI-8B, TTI-70B, TTI-400B): GET /v1/indices/methodology.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key (tck_…)' })
      .build(),
  );
}
