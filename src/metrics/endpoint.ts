import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readOnly, sendJson } from '../http/answers';
import type { PrometheusMetrics } from './metrics';

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * `GET /metrics`: the Prometheus text, to a scraper holding the bearer token when one is
 * configured. A missing or wrong token gets 401 and not one line of metrics.
 */
export function metricsHandler(metrics: PrometheusMetrics, token: string | undefined): MetricsHandler {
  // Digests of equal length, so the comparison takes the same time whatever was sent.
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    res.setHeader('cache-control', 'no-store');
    if (!readOnly(req, res)) return;
    if (expected && !timingSafeEqual(digest(bearerOf(req) ?? ''), expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return sendJson(res, 401, { error: 'unauthorized' });
    }
    const { contentType, text } = await metrics.exposition();
    res.statusCode = 200;
    res.setHeader('content-type', contentType);
    res.end(req.method === 'HEAD' ? undefined : text);
  };
}

/** The listener of `METRICS_PORT`: `/metrics` and nothing else. `server` comes from `createHttpServer`. */
export function serveMetricsOnly(server: Server, handle: MetricsHandler, logger: Logger): void {
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return sendJson(res, 404, { error: 'not found' });
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'metrics scrape failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'metrics unavailable' });
      else res.destroy();
    });
  });
}

function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
