import { e164Parts } from '../phones/e164-parts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Why a code was not accepted (`otp_verifications_failed_total{reason}`). */
export type OtpFailure = 'wrong_code' | 'expired' | 'attempts_exhausted';

export type SinchEndpoint = 'start' | 'report' | 'status';

export type CircuitState = 'closed' | 'half-open' | 'open';

export interface PoolUse {
  used: number;
  free: number;
  pending: number;
}

/**
 * What the service records for operators. Every label value is a bounded word chosen by the code
 * (an operation of the schema, an error code, a rule, a calling code): never an email, a number,
 * an id or a token. Call sites record unconditionally; with metrics off they hit `NO_METRICS`.
 */
export interface Metrics {
  /** A GraphQL request answered: `operation` is a schema field or "unknown", `code` "OK" or the first error's code. */
  graphqlRequest(operation: string, code: string, seconds: number): void;
  /** `destination` is reduced here to its country calling code; the number itself is never kept. */
  codeSent(channel: 'SMS' | 'VOICE', destination: string): void;
  codeVerified(channel: 'SMS' | 'VOICE', destination: string): void;
  codeFailed(channel: 'SMS' | 'VOICE', destination: string, reason: OtpFailure): void;
  /** A limit refused something: a directive policy or one of the service's own budgets. */
  limiterRefusal(rule: string): void;
  /** One exchange with Sinch; `outcome` is "ok" or what went wrong (also counted as an error). */
  sinchCall(endpoint: SinchEndpoint, outcome: string, seconds: number): void;
  /** A Sinch call that never left (the circuit is open). */
  sinchRefused(endpoint: SinchEndpoint): void;
  /** Read at each scrape, never on the request path. */
  watchBreaker(scope: string, state: () => CircuitState): void;
  watchPasswordQueue(depth: () => number): void;
  watchDatabasePool(use: () => PoolUse | undefined): void;
}

const nothing = () => {};

/** Metrics off: every recording is a call to an empty function. */
export const NO_METRICS: Metrics = {
  graphqlRequest: nothing,
  codeSent: nothing,
  codeVerified: nothing,
  codeFailed: nothing,
  limiterRefusal: nothing,
  sinchCall: nothing,
  sinchRefused: nothing,
  watchBreaker: nothing,
  watchPasswordQueue: nothing,
  watchDatabasePool: nothing,
};

const CHANNEL = { SMS: 'sms', VOICE: 'voice' } as const;
const CIRCUIT: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };
/** From a cached `me` (about a millisecond) to a login waiting on bcrypt and Sinch. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SINCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The country calling code of an E.164 number (`44`), from libphonenumber's metadata: a set of
 * about 230 values. Anything it cannot parse is "unknown", so no digits of a number leak.
 */
export function callingCodeLabel(e164: string): string {
  return e164Parts(e164)?.countryCallingCode ?? 'unknown';
}

/** Prometheus metrics in a registry of this instance's own (two apps in one process do not collide). */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<'operation' | 'code'>;
  private readonly sent: Counter<'channel' | 'country_code'>;
  private readonly verified: Counter<'channel' | 'country_code'>;
  private readonly failed: Counter<'channel' | 'country_code' | 'reason'>;
  private readonly refusals: Counter<'rule'>;
  private readonly sinchSeconds: Histogram<'endpoint' | 'outcome'>;
  private readonly sinchErrors: Counter<'endpoint' | 'kind'>;
  private readonly breakers = new Map<string, () => CircuitState>();
  private passwordQueue: () => number = () => 0;
  private databasePool: () => PoolUse | undefined = () => undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    new Counter({
      name: 'graphql_requests_total',
      help: 'GraphQL requests by operation (schema field) and result code ("OK" or the first error code)',
      labelNames: ['operation', 'code'],
      registers,
      // A request is recorded once, in the histogram (half the work per request); this counter is
      // the histogram's count per operation and code, copied at each scrape.
      async collect() {
        this.reset();
        for (const { metricName, labels, value } of (await metrics.requestSeconds.get()).values) {
          if (metricName === 'graphql_request_duration_seconds_count') this.inc(labels as Record<'operation' | 'code', string>, value);
        }
      },
    });
    this.requestSeconds = new Histogram({
      name: 'graphql_request_duration_seconds',
      help: 'GraphQL request duration, from the parsed request to the answer',
      labelNames: ['operation', 'code'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.sent = new Counter({
      name: 'otp_codes_sent_total',
      help: 'One-time codes sent, by channel and country calling code',
      labelNames: ['channel', 'country_code'],
      registers,
    });
    this.verified = new Counter({
      name: 'otp_codes_verified_total',
      help: 'One-time codes verified, by channel and country calling code',
      labelNames: ['channel', 'country_code'],
      registers,
    });
    this.failed = new Counter({
      name: 'otp_verifications_failed_total',
      help: 'Codes not accepted, by channel, country calling code and reason',
      labelNames: ['channel', 'country_code', 'reason'],
      registers,
    });
    this.refusals = new Counter({
      name: 'rate_limit_refusals_total',
      help: 'Requests refused by a rate limit or budget, by rule',
      labelNames: ['rule'],
      registers,
    });
    this.sinchSeconds = new Histogram({
      name: 'sinch_request_duration_seconds',
      help: 'Sinch Verification API calls, by endpoint and outcome ("ok", timeout, network, malformed, http_<status>)',
      labelNames: ['endpoint', 'outcome'],
      buckets: SINCH_BUCKETS,
      registers,
    });
    this.sinchErrors = new Counter({
      name: 'sinch_errors_total',
      help: 'Sinch calls without a usable answer, by endpoint and kind (circuit_open: not sent)',
      labelNames: ['endpoint', 'kind'],
      registers,
    });
    const breakers = this.breakers;
    new Gauge({
      name: 'sinch_breaker_state',
      help: 'Circuit breaker in front of Sinch: 0 closed, 1 half-open, 2 open',
      labelNames: ['scope'],
      registers,
      collect() {
        for (const [scope, state] of breakers) this.set({ scope }, CIRCUIT[state()]);
      },
    });
    new Gauge({
      name: 'password_hash_queue_depth',
      help: 'Password hashes and checks waiting for a worker thread',
      registers,
      collect() {
        this.set(metrics.passwordQueue());
      },
    });
    new Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections: used, free, and acquisitions pending',
      labelNames: ['state'],
      registers,
      collect() {
        const use = metrics.databasePool();
        if (!use) return;
        this.set({ state: 'used' }, use.used);
        this.set({ state: 'free' }, use.free);
        this.set({ state: 'pending' }, use.pending);
      },
    });
  }

  graphqlRequest(operation: string, code: string, seconds: number): void {
    this.requestSeconds.observe({ operation, code }, seconds);
  }

  codeSent(channel: 'SMS' | 'VOICE', destination: string): void {
    this.sent.inc({ channel: CHANNEL[channel], country_code: callingCodeLabel(destination) });
  }

  codeVerified(channel: 'SMS' | 'VOICE', destination: string): void {
    this.verified.inc({ channel: CHANNEL[channel], country_code: callingCodeLabel(destination) });
  }

  codeFailed(channel: 'SMS' | 'VOICE', destination: string, reason: OtpFailure): void {
    this.failed.inc({ channel: CHANNEL[channel], country_code: callingCodeLabel(destination), reason });
  }

  limiterRefusal(rule: string): void {
    this.refusals.inc({ rule });
  }

  sinchCall(endpoint: SinchEndpoint, outcome: string, seconds: number): void {
    this.sinchSeconds.observe({ endpoint, outcome }, seconds);
    if (outcome !== 'ok') this.sinchErrors.inc({ endpoint, kind: outcome });
  }

  sinchRefused(endpoint: SinchEndpoint): void {
    this.sinchErrors.inc({ endpoint, kind: 'circuit_open' });
  }

  watchBreaker(scope: string, state: () => CircuitState): void {
    this.breakers.set(scope, state);
  }

  watchPasswordQueue(depth: () => number): void {
    this.passwordQueue = depth;
  }

  watchDatabasePool(use: () => PoolUse | undefined): void {
    this.databasePool = use;
  }

  /** The Prometheus text exposition (format 0.0.4). */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
