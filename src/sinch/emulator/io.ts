import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 64 * 1024;

/** Reads the whole body; past the limit it keeps draining (so the reply can be sent) but drops bytes. */
export async function readBody(req: IncomingMessage): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), tooLarge: size > MAX_BODY_BYTES };
}

/** False when the client is gone (it gave up waiting on a slow answer): nothing was written. */
export function writeJson(res: ServerResponse, status: number, body: object | string, headers?: Record<string, string>): boolean {
  if (res.headersSent || res.destroyed) return false;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
  return true;
}
