import { readFileSync } from 'node:fs';
import { buildSchema, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as kit from '../../client/generated/graphql';
import { useTestApp } from '../support/test-app';

/** Variables of the right shape (values the service will refuse, which is fine here). */
const VARIABLES: Record<string, Record<string, unknown>> = {
  Register: { input: { email: 'x', password: 'x', phoneNumber: 'x' } },
  Login: { input: { email: 'x', password: 'x' } },
  RequestOtp: { input: { pendingToken: 'x' } },
  OtpStatus: { pendingToken: 'x' },
  VerifyOtp: { input: { pendingToken: 'x', code: '123456' } },
  VerifyRecoveryCode: { input: { pendingToken: 'x', recoveryCode: 'x' } },
  RefreshSession: { input: { refreshToken: 'x' } },
  RevokeSession: { input: { sessionId: 'x' } },
  ChangePassword: { input: { currentPassword: 'x', newPassword: 'x' } },
  StartPhoneNumberChange: { input: { phoneNumber: 'x' } },
  DeleteAccount: { input: { password: 'x' } },
  AuthEvents: { first: 5 },
};

const documents = Object.entries(kit).filter(([name]) => name.endsWith('Document')) as Array<[string, Parameters<typeof print>[0]]>;

describe('the typed client kit against the running service', () => {
  const t = useTestApp();

  it('covers every query and mutation of schema.graphql', () => {
    const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));
    const rootFields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) => Object.keys(type.getFields()));
    const used = new Set(
      documents.flatMap(([, document]) => [...print(document).matchAll(/^(?:query|mutation) \w+[^{]*\{\s+(\w+)/gm)].map((m) => m[1])),
    );
    expect(rootFields.filter((field) => !used.has(field))).toEqual([]);
  });

  // Regression: fragments counted as depth, so the kit's own VerifyOtp (fragment in fragment) was refused as too deep.
  it.each(documents)('%s passes parsing and validation (the document limits included)', async (name, document) => {
    const res = await t.gql(print(document), VARIABLES[name.replace(/Document$/, '')] ?? {});
    const codes = (res.errors ?? []).map((e) => e.extensions?.code);
    expect(codes).not.toContain('GRAPHQL_VALIDATION_FAILED');
    expect(codes).not.toContain('GRAPHQL_PARSE_FAILED');
    expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
  });
});
