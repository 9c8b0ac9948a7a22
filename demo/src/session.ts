import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { type AuthPayloadFieldsFragment, RefreshSessionDocument } from '../../client/generated/graphql';

export const API_URL: string = import.meta.env.VITE_API_URL ?? 'http://localhost:4000/graphql';

/**
 * Where the demo keeps each token, and why:
 * - the access token lives in memory only (this module): no other script can read it from
 *   storage, and a reload simply gets a new one with the refresh token;
 * - the refresh token lives in sessionStorage: it survives a reload of this tab but is not shared
 *   with other tabs nor kept once the tab is closed. (localStorage would keep users signed in
 *   across tabs and restarts, at the price of a longer-lived secret on disk.)
 * The service uses no cookies: tokens travel in the Authorization header and in response bodies.
 */
const REFRESH_KEY = 'sinch-2fa-demo.refreshToken';
/** Renew this long before the access token expires. */
const RENEW_AHEAD_MS = 60_000;

type Listener = () => void;

class TokenStore {
  private access: { token: string; expiresAt: number } | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<Listener>();
  /** Set by the client once it exists: renews the pair with the refresh token. */
  renew: () => Promise<boolean> = async () => false;
  lastRenewedAt: Date | null = null;

  get accessToken(): string | null {
    return this.access && this.access.expiresAt > Date.now() ? this.access.token : null;
  }

  get refreshToken(): string | null {
    return sessionStorage.getItem(REFRESH_KEY);
  }

  get signedIn(): boolean {
    return this.access !== null;
  }

  /** Keeps a new pair (sign-in, refresh or step-up) and schedules the next renewal. */
  store(payload: Pick<AuthPayloadFieldsFragment, 'accessToken' | 'expiresAt' | 'refreshToken'>, renewed = false): void {
    const expiresAt = Date.parse(payload.expiresAt);
    this.access = { token: payload.accessToken, expiresAt };
    sessionStorage.setItem(REFRESH_KEY, payload.refreshToken);
    if (renewed) this.lastRenewedAt = new Date();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), Math.max(0, expiresAt - Date.now() - RENEW_AHEAD_MS));
    this.emit();
  }

  clear(): void {
    this.access = null;
    this.lastRenewedAt = null;
    sessionStorage.removeItem(REFRESH_KEY);
    clearTimeout(this.timer);
    this.emit();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

export const tokens = new TokenStore();

export function createClient(): ApolloClient {
  const auth = new SetContextLink((previous) => {
    const token = tokens.accessToken;
    return token ? { headers: { ...previous.headers, authorization: `Bearer ${token}` } } : {};
  });
  const client = new ApolloClient({
    link: ApolloLink.from([auth, new HttpLink({ uri: API_URL })]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' }, watchQuery: { fetchPolicy: 'network-only' } },
  });
  tokens.renew = async () => {
    const refreshToken = tokens.refreshToken;
    if (!refreshToken) return false;
    try {
      const { data } = await client.mutate({ mutation: RefreshSessionDocument, variables: { input: { refreshToken } } });
      if (!data) throw new Error('no data');
      tokens.store(data.refreshSession, true);
      return true;
    } catch {
      // Used up, expired, or the session was ended elsewhere: sign in again.
      tokens.clear();
      await client.clearStore();
      return false;
    }
  };
  return client;
}
