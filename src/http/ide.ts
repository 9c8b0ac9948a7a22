import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';

const GRAPHQL_PATH = '/graphql';
/** Where the offline IDE lives, under the GraphQL endpoint. */
export const IDE_PATH = `${GRAPHQL_PATH}/ide/`;
/** The client kit's operation files, in the order of the flow. */
const OPERATION_FILES = ['sign-in.graphql', 'second-factor.graphql', 'sessions.graphql', 'account.graphql'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Development only: the Altair GraphQL IDE, served from its npm package (altair-static, no CDN),
 * for when Apollo Sandbox cannot load (offline). It opens with every operation of the client kit
 * and an `Authorization: Bearer ` header ready to complete.
 */
export class OfflineIde {
  private constructor(
    private readonly distDirectory: string,
    private readonly indexHtml: string,
  ) {}

  static async create(document: string): Promise<OfflineIde> {
    // Loaded only where it is used: production never serves the IDE.
    const altair = await import('altair-static');
    const indexHtml = altair.renderAltair({
      baseURL: IDE_PATH,
      endpointURL: GRAPHQL_PATH,
      // As written: renderAltair escapes backslashes, backticks and `${` in the literal it writes.
      initialQuery: document,
      initialHeaders: { Authorization: 'Bearer ' },
      initialName: 'sinch-2fa-graphql',
      disableAccount: true,
    });
    return new OfflineIde(altair.getDistDirectory(), indexHtml);
  }

  /** Serves `pathname` if it is under the IDE's path; false when it is not the IDE's. */
  async serve(pathname: string, res: ServerResponse): Promise<boolean> {
    if (pathname !== IDE_PATH.slice(0, -1) && !pathname.startsWith(IDE_PATH)) return false;
    const relative = pathname.slice(IDE_PATH.length);
    if (relative === '' || relative === 'index.html') return send(res, 200, CONTENT_TYPES['.html'], this.indexHtml, 'no-cache');
    const file = path.resolve(this.distDirectory, relative);
    // Only files inside the package's dist folder, never `..` out of it.
    if (!file.startsWith(this.distDirectory + path.sep) || !CONTENT_TYPES[path.extname(file)]) return send(res, 404, 'text/plain', 'not found');
    const body = await readFile(file).catch(() => undefined);
    if (!body) return send(res, 404, 'text/plain', 'not found');
    return send(res, 200, CONTENT_TYPES[path.extname(file)], body, 'public, max-age=86400');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, cacheControl?: string): true {
  res.statusCode = status;
  res.setHeader('content-type', type);
  if (cacheControl) res.setHeader('cache-control', cacheControl);
  res.end(body);
  return true;
}

/** Every operation of the client kit (client/operations/*.graphql), for the IDE to open with. */
export async function flowOperations(): Promise<string> {
  // From src/http or dist/src/http: the repository root is the first ancestor holding client/.
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'client', 'operations')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const folder = path.join(dir, 'client', 'operations');
  if (!existsSync(folder)) return '';
  const present = (await readdir(folder)).filter((name) => name.endsWith('.graphql'));
  // The flow's files first, in its order; any other after them.
  const files = [...OPERATION_FILES.filter((name) => present.includes(name)), ...present.filter((name) => !OPERATION_FILES.includes(name)).sort()];
  return (await Promise.all(files.map((name) => readFile(path.join(folder, name), 'utf8')))).join('\n');
}
