import { invalidParameter, notFound } from './faults';
import { checkEndpoint, methodFrom, parseJsonObject, parseReportRequest, parseStartRequest } from './requests';
import { reportResponse, startResponse, statusResponse } from './responses';
import type { EmulatedVerification, VerificationStore } from './store';

/** The six Verification operations (facts doc section 1), matched on the raw path. */

export interface RouteContext {
  store: VerificationStore;
  body: Buffer;
  /** scheme://host the request was addressed to, for `_links`. */
  origin: string;
  now: Date;
  headers: Record<string, string | string[] | undefined>;
  /** Awaited between creating a verification and answering: where the request callback runs. */
  approve(verification: EmulatedVerification): Promise<void>;
}

export interface RouteAnswer {
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  /** The verification a start created, for what happens after the answer (SMS delivery). */
  started?: EmulatedVerification;
}

interface Route {
  /** For logs: the template, never the concrete path (it may hold a phone number). */
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  pattern: RegExp;
  handle(context: RouteContext, params: string[]): RouteAnswer | Promise<RouteAnswer>;
}

const BASE = '/verification/v1/verifications';

const ROUTES: Route[] = [
  {
    name: 'POST /verifications',
    method: 'POST',
    pattern: /^\/verification\/v1\/verifications\/?$/,
    async handle({ store, body, origin, now, headers, approve }) {
      const verification = store.start(parseStartRequest(parseJsonObject(body)));
      await approve(verification);
      // SMS language comes from Accept-Language and is echoed as Content-Language; no preference
      // (none, or fetch's default `*`) means Sinch's default.
      const asked = String(headers['accept-language'] ?? '')
        .split(',')[0]
        .split(';')[0]
        .trim();
      const language = asked === '' || asked === '*' ? 'en-US' : asked;
      return {
        body: startResponse(verification, origin, now),
        headers: verification.method === 'sms' ? { 'content-language': language } : undefined,
        started: verification,
      };
    },
  },
  {
    name: 'PUT /verifications/id/{id}',
    method: 'PUT',
    pattern: /^\/verification\/v1\/verifications\/id\/([^/]+)$/,
    handle({ store, body }, [id]) {
      const report = parseReportRequest(parseJsonObject(body));
      const verification = store.get(id) ?? throwNotFound();
      return { body: reportResponse(store.report(verification, report.method, report.secret)) };
    },
  },
  {
    name: 'PUT /verifications/number/{endpoint}',
    method: 'PUT',
    pattern: /^\/verification\/v1\/verifications\/number\/([^/]+)$/,
    handle({ store, body }, [endpoint]) {
      checkEndpoint(endpoint);
      const report = parseReportRequest(parseJsonObject(body));
      const verification = store.findLatest(endpoint, report.method) ?? throwNotFound();
      return { body: reportResponse(store.report(verification, report.method, report.secret)) };
    },
  },
  {
    name: 'GET /verifications/id/{id}',
    method: 'GET',
    pattern: /^\/verification\/v1\/verifications\/id\/([^/]+)$/,
    handle: ({ store }, [id]) => ({ body: statusResponse(store.get(id) ?? throwNotFound()) }),
  },
  {
    name: 'GET /verifications/reference/{reference}',
    method: 'GET',
    pattern: /^\/verification\/v1\/verifications\/reference\/([^/]+)$/,
    handle: ({ store }, [reference]) => ({ body: statusResponse(store.findByReference(reference) ?? throwNotFound()) }),
  },
  {
    name: 'GET /verifications/{method}/number/{endpoint}',
    method: 'GET',
    pattern: /^\/verification\/v1\/verifications\/([^/]+)\/number\/([^/]+)$/,
    handle({ store }, [methodSegment, endpoint]) {
      const method = methodFrom(methodSegment);
      if (method === undefined || method === 'seamless') throw invalidParameter('Invalid verification method.');
      checkEndpoint(endpoint);
      return { body: statusResponse(store.findLatest(endpoint, method) ?? throwNotFound()) };
    },
  },
];

export function findRoute(method: string, path: string): { route: Route; params: string[] } | undefined {
  if (!path.startsWith(BASE)) return undefined;
  for (const route of ROUTES) {
    const match = route.method === method ? route.pattern.exec(path) : null;
    if (!match) continue;
    try {
      // `%2B` and a literal `+` both mean the plus of an E.164 number here.
      return { route, params: match.slice(1).map((segment) => decodeURIComponent(segment)) };
    } catch {
      throw invalidParameter('Malformed path.');
    }
  }
  return undefined;
}

function throwNotFound(): never {
  throw notFound();
}
