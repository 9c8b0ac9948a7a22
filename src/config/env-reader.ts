import { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import type { TestNumbersConfig } from '../phones/test-numbers';
import type { CorsConfig, Window } from './config';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Reads variables one by one, collecting one problem line per malformed variable. */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  problem(name: string, message: string): void {
    this.problems.push(`${name} ${message}`);
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }

  string(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problem(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  oneOf<const T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw)) {
      this.problem(name, `must be one of ${values.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  /** URLs are checked but never echoed: they may hold a password. */
  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !protocols.includes(parsed.protocol)) {
      this.problem(name, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return undefined;
    }
    return raw;
  }

  path(name: string, fallback: string): string {
    const raw = this.string(name) ?? fallback;
    if (!/^\/[A-Za-z0-9._~\-/]*$/.test(raw) || ['/graphql', '/healthz', '/readyz', '/metrics'].includes(raw)) {
      this.problem(name, `must be a URL path such as ${fallback}, not one of the service's own (got "${raw}")`);
      return fallback;
    }
    return raw;
  }

  list(name: string): string[] {
    return (this.string(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }

  /** `limit/seconds`, e.g. `10/900` for ten per quarter of an hour. */
  window(name: string, fallback: string): Window {
    const raw = this.string(name) ?? fallback;
    const match = /^(\d{1,7})\/(\d{1,7})$/.exec(raw);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
      this.problem(name, `must be LIMIT/SECONDS with whole numbers, e.g. ${fallback} (got "${raw}")`);
      return this.window('', fallback);
    }
    return { limit: Number(match[1]), durationSeconds: Number(match[2]) };
  }

  /**
   * `CORS_ORIGINS`: comma-separated origins, or `*` outside production. Unset: in development any
   * localhost port plus the hosted Apollo Sandbox; in production no browser origin at all.
   */
  cors(name: string, production: boolean): CorsConfig {
    const raw = this.string(name);
    if (raw === undefined) {
      return production
        ? { origins: [], anyOrigin: false, anyLocalhostPort: false }
        : { origins: ['https://studio.apollographql.com'], anyOrigin: false, anyLocalhostPort: true };
    }
    const items = this.list(name);
    const anyOrigin = items.includes('*');
    if (anyOrigin && production) this.problem(name, 'may not be * when NODE_ENV=production: list the origins of your apps');
    const origins: string[] = [];
    for (const item of items.filter((i) => i !== '*')) {
      const origin = parseOrigin(item);
      if (origin) origins.push(origin);
      else this.problem(name, `must list origins such as https://app.example.com (scheme, host and port only; got "${item}")`);
    }
    return { origins, anyOrigin, anyLocalhostPort: false };
  }

  /**
   * `+E164=code` pairs and the date they stop working (required with them). A date alone means
   * through the end of that day (UTC). In production the date may be at most 90 days ahead.
   */
  testNumbers(name: string, untilName: string, production: boolean): TestNumbersConfig | undefined {
    const raw = this.string(name);
    const rawUntil = this.string(untilName);
    if (raw === undefined) {
      if (rawUntil !== undefined) this.problem(untilName, `is set but ${name} is not`);
      return undefined;
    }
    const codes: Record<string, string> = {};
    for (const pair of this.list(name)) {
      const match = /^(\+[1-9]\d{6,14})=([0-9]{4,10})$/.exec(pair.replace(/\s+/g, ''));
      if (!match) {
        this.problem(name, 'must be +E164=code pairs separated by commas, codes of 4 to 10 digits (e.g. +15555550100=424242)');
        return undefined;
      }
      codes[match[1]] = match[2];
    }
    const until = rawUntil === undefined ? undefined : parseUntil(rawUntil);
    if (!until) {
      this.problem(untilName, `is required with ${name}: an ISO date such as 2027-03-01 (the test numbers stop working after it)`);
      return undefined;
    }
    if (production && until.getTime() > Date.now() + 90 * 86_400_000) {
      this.problem(untilName, 'may be at most 90 days ahead when NODE_ENV=production');
    }
    return { codes, until };
  }

  countries(name: string): CountryCode[] | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const codes = raw
      .split(',')
      .map((c) => c.trim().toUpperCase())
      .filter(Boolean);
    const unknown = codes.filter((c) => !isSupportedCountry(c));
    if (unknown.length > 0) this.problem(name, `has unknown ISO 3166-1 alpha-2 codes: ${unknown.join(', ')}`);
    return codes as CountryCode[];
  }
}

/** `2027-03-01` (through the end of that day, UTC) or a full ISO timestamp; undefined if neither. */
function parseUntil(value: string): Date | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const day = new Date(`${value}T00:00:00Z`);
    return Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== value ? undefined : new Date(day.getTime() + 86_400_000);
  }
  if (!/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const instant = new Date(value);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

/** `scheme://host[:port]` as browsers send it in `Origin`, or undefined when `value` is not just that. */
function parseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const bare = (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash && !url.username && !url.password;
  if (!bare || (url.protocol !== 'http:' && url.protocol !== 'https:') || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i.test(value)) return undefined;
  return url.origin;
}
