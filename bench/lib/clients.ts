import type { Child } from './processes';
import { HttpTarget } from './http';

/** The sign-in flow and `me`, the same steps against the service (GraphQL) and the Express peer (REST). */
export interface FlowClient {
  readonly name: string;
  register(email: string, password: string, phoneNumber: string): Promise<string>;
  login(email: string, password: string): Promise<string>;
  /** Answers whether the login was refused as it should be (wrong password, unknown email). */
  loginRefused(email: string, password: string): Promise<boolean>;
  requestOtp(pendingToken: string): Promise<void>;
  verifyOtp(pendingToken: string, code: string): Promise<string>;
  /** A prepared `me` for this access token: as cheap as possible on the generator's side. */
  meRequest(accessToken: string): () => Promise<void>;
  close(): void;
}

const REGISTER = 'mutation Register($i: RegisterInput!) { register(input: $i) { pendingToken } }';
const LOGIN = 'mutation Login($i: LoginInput!) { login(input: $i) { pendingToken } }';
const REQUEST_OTP = 'mutation RequestOtp($i: RequestOtpInput!) { requestOtp(input: $i) { channel } }';
const VERIFY_OTP = 'mutation VerifyOtp($i: VerifyOtpInput!) { verifyOtp(input: $i) { accessToken } }';
const ME = JSON.stringify({ query: 'query Me { me { id email } }' });

/** The service's GraphQL endpoint (and the floor's, which answers `me` at the same path). */
export class GraphQLClient implements FlowClient {
  private readonly http: HttpTarget;
  private readonly path: string;

  constructor(
    readonly name: string,
    url: string,
  ) {
    const parsed = new URL(url);
    this.http = new HttpTarget(parsed.origin);
    this.path = parsed.pathname;
  }

  private async call(query: string, input: object, field: string): Promise<any> {
    const { status, body } = await this.http.send('POST', this.path, JSON.stringify({ query, variables: { i: input } }));
    const value = body?.data?.[field];
    if (!value) throw new Error(`${this.name} ${field}: HTTP ${status} ${JSON.stringify(body?.errors ?? body).slice(0, 300)}`);
    return value;
  }

  async register(email: string, password: string, phoneNumber: string): Promise<string> {
    return (await this.call(REGISTER, { email, password, phoneNumber }, 'register')).pendingToken;
  }

  async login(email: string, password: string): Promise<string> {
    return (await this.call(LOGIN, { email, password }, 'login')).pendingToken;
  }

  async loginRefused(email: string, password: string): Promise<boolean> {
    const { body } = await this.http.send('POST', this.path, JSON.stringify({ query: LOGIN, variables: { i: { email, password } } }));
    return body?.errors?.[0]?.extensions?.code === 'INVALID_CREDENTIALS';
  }

  async requestOtp(pendingToken: string): Promise<void> {
    await this.call(REQUEST_OTP, { pendingToken, channel: 'SMS' }, 'requestOtp');
  }

  async verifyOtp(pendingToken: string, code: string): Promise<string> {
    return (await this.call(VERIFY_OTP, { pendingToken, code }, 'verifyOtp')).accessToken;
  }

  meRequest(accessToken: string): () => Promise<void> {
    const headers = { authorization: `Bearer ${accessToken}` };
    return async () => {
      const { status, body } = await this.http.send('POST', this.path, ME, headers);
      if (!body?.data?.me?.id) throw new Error(`${this.name} me: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
    };
  }

  close(): void {
    this.http.close();
  }
}

/** bench/express-peer.ts. */
export class RestClient implements FlowClient {
  private readonly http: HttpTarget;

  constructor(
    readonly name: string,
    url: string,
  ) {
    this.http = new HttpTarget(url);
  }

  private async post(path: string, input: object): Promise<any> {
    const { status, body } = await this.http.send('POST', path, JSON.stringify(input));
    if (status >= 300) throw new Error(`${this.name} ${path}: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  }

  async register(email: string, password: string, phoneNumber: string): Promise<string> {
    return (await this.post('/register', { email, password, phoneNumber })).pendingToken;
  }

  async login(email: string, password: string): Promise<string> {
    return (await this.post('/login', { email, password })).pendingToken;
  }

  async loginRefused(email: string, password: string): Promise<boolean> {
    return (await this.http.send('POST', '/login', JSON.stringify({ email, password }))).status === 401;
  }

  async requestOtp(pendingToken: string): Promise<void> {
    await this.post('/request-otp', { pendingToken });
  }

  async verifyOtp(pendingToken: string, code: string): Promise<string> {
    return (await this.post('/verify-otp', { pendingToken, code })).accessToken;
  }

  meRequest(accessToken: string): () => Promise<void> {
    const headers = { authorization: `Bearer ${accessToken}` };
    return async () => {
      const { status, body } = await this.http.send('GET', '/me', undefined, headers);
      if (!body?.id) throw new Error(`${this.name} me: HTTP ${status} ${JSON.stringify(body).slice(0, 300)}`);
    };
  }

  close(): void {
    this.http.close();
  }
}

/** Distinct users: `bench.<run>.<n>@example.com` and +447400nnnnnn (UK mobile range, valid). */
export class Users {
  private next = 0;

  constructor(
    private readonly run: string,
    private readonly phoneBase = 0,
  ) {}

  take(): { email: string; phoneNumber: string } {
    const n = this.next++;
    const phone = (this.phoneBase + n) % 1_000_000;
    return { email: `bench.${this.run}.${n}@example.com`, phoneNumber: `+447400${String(phone).padStart(6, '0')}` };
  }
}

export const PASSWORD = 'correct horse battery staple';

/** One whole sign-in: register → requestOtp → (the code from the emulator) → verifyOtp. */
export async function signIn(client: FlowClient, emulator: Child, user: { email: string; phoneNumber: string }): Promise<string> {
  const pending = await client.register(user.email, PASSWORD, user.phoneNumber);
  await client.requestOtp(pending);
  const code = await emulator.ask<string>('code', { phoneNumber: user.phoneNumber });
  return client.verifyOtp(pending, code);
}
