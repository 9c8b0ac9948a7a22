import type { IncomingMessage, ServerResponse } from 'node:http';

/** A JSON answer: `{"error": "…"}` for the service's plain endpoints, GraphQL's shape for /graphql. */
export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(payload));
}

/** GET and HEAD only; anything else is answered 405 with `Allow` here (false). */
export function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.setHeader('allow', 'GET, HEAD');
  sendJson(res, 405, { error: 'method not allowed' });
  return false;
}
