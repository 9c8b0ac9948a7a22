import { describe, expect, it } from 'vitest';
import {
  basicAuthorization,
  contentMd5,
  signature,
  signedAuthorization,
  stringToSign,
  verifyRequestAuthorization,
  type HeaderBag,
} from '../../src/sinch/signing';

// Vectors copied from ../shared/sinch/verification-api.md section 6d (V8 is a test artefact: skipped).

describe('signing vectors', () => {
  it('V1: docs signed request, string to sign and signature', () => {
    const md5 = contentMd5('{"message":"Hello world"}');
    expect(md5).toBe('jANzQ+rgAHyf1MWQFSwvYw==');
    const toSign = stringToSign({
      method: 'POST',
      contentMd5: md5,
      contentType: 'application/json',
      timestamp: '2014-06-04T13:41:58Z',
      path: '/v1/sms/+46700000000',
    });
    expect(toSign).toBe('POST\njANzQ+rgAHyf1MWQFSwvYw==\napplication/json\nx-timestamp:2014-06-04T13:41:58Z\n/v1/sms/+46700000000');
    expect(signature(toSign, 'JViE5vDor0Sw3WllZka15Q==')).toBe('qDXMwzfaxCRS849c/2R0hg0nphgdHciTo7OdM6MsdnM=');
    expect(
      signedAuthorization({
        method: 'POST',
        path: '/v1/sms/+46700000000',
        contentType: 'application/json',
        timestamp: '2014-06-04T13:41:58Z',
        body: '{"message":"Hello world"}',
        applicationKey: '5F5C418A0F914BBC8234A9BF5EDDAD97',
        applicationSecret: 'JViE5vDor0Sw3WllZka15Q==',
      }),
    ).toBe('Application 5F5C418A0F914BBC8234A9BF5EDDAD97:qDXMwzfaxCRS849c/2R0hg0nphgdHciTo7OdM6MsdnM=');
  });

  const V3_KEY = '669E367E-6BBA-48AB-AF15-266871C28135';
  const V3 = {
    method: 'POST',
    path: '/verification/v1/verifications',
    contentType: 'application/json',
    timestamp: '2014-06-04T13:41:58Z',
    applicationKey: V3_KEY,
    applicationSecret: 'BeIukql3pTKJ8RGL5zo0DA==',
  };

  it('V3: .NET start-verification signature (body with spaces)', () => {
    const body = '{"identity": {"type": "number", "endpoint": "+46700000000"}, "method": "sms"}';
    expect(contentMd5(body)).toBe('c5jl2EZiU6BpQ2QiBOJ/gQ==');
    const header = signedAuthorization({ ...V3, body });
    expect(header).toBe(`Application ${V3_KEY}:h6rXrFayOoggyHW4ymnLlfSDkZZPg6j98lHzvOXVjvw=`);
  });

  it.each([undefined, '', Buffer.alloc(0)])('V4: empty body (%j) keeps the empty MD5 line', (body) => {
    const header = signedAuthorization({ ...V3, body });
    expect(header).toBe(`Application ${V3_KEY}:srx3SkKXw/ryFJLfwFFzZTigPxR/1+9Ae+eB3olDIjM=`);
  });

  const V5 = {
    path: '/path/pathParamValue',
    timestamp: '2023-11-22T09:10:11.999Z',
    applicationKey: 'my-key-id',
    applicationSecret: 'bXkta2V5LXNlY3JldA==',
  };

  it('V5: cross-SDK vector with a charset in the content type', () => {
    const body = '{"identity":{"type":"number","endpoint":"+33444555666"},"method":"sms"}';
    expect(contentMd5(body)).toBe('RkD29EocJh6t7zr5QfKM4g==');
    const header = signedAuthorization({ ...V5, method: 'POST', contentType: 'application/json; charset=UTF-8', body });
    expect(header).toBe('Application my-key-id:QP3OzQZVzRZAEev6DBLvJkgpiqyZPuXYsc7oyjUV0K8=');
  });

  it('V6: GET without a body still signs the content type', () => {
    const header = signedAuthorization({ ...V5, method: 'GET', contentType: 'application/json', body: undefined });
    expect(header).toBe('Application my-key-id:nsrLDvP6KVD/dAxb3IfAncdwjPFJVWSrseEFOcZge+A=');
  });

  it('V7: a secret that is not valid base64 is decoded leniently', () => {
    const body = '{"id":"018d2104-aaa-bbbb-1234","price":{"amount":0.0308},"rate":{"amount":0.0}}';
    expect(contentMd5(body)).toBe('zvgV0+i8tMaEPl5sArRgSg==');
    const header = signedAuthorization({
      method: 'POST',
      path: '/webhook',
      contentType: 'application/json; charset=utf-8',
      timestamp: '2024-01-19T09:19:28.9372196Z',
      body,
      applicationKey: 'app-key',
      applicationSecret: 'app-secret',
    });
    expect(header).toBe('Application app-key:p7hUz20oz16Fhfogs4Z0X+VA/Nhuu505I1alXYqwlKw=');
  });
});

describe('verifyRequestAuthorization', () => {
  const V2 = {
    applicationKey: '669E367E-6BBA-48AB-AF15-266871C28135',
    applicationSecret: 'BeIukql3pTKJ8RGL5zo0DA==',
    method: 'POST',
    path: '/sinch/callback/ace',
    rawBody: '{"event":"ace","callid":"822aa4b7-05b4-4d83-87c7-1f835ee0b6f6_257","timestamp":"2014-09-24T10:59:41Z","version":1}',
    headers: {
      authorization: 'application 669E367E-6BBA-48AB-AF15-266871C28135:Tg6fMyo8mj9pYfWQ9ssbx3Tc1BNC87IEygAfLbJqZb4=',
      'content-type': 'application/json',
      'x-timestamp': '2014-09-24T10:59:41Z',
    } as HeaderBag,
    allowBasic: false,
  };

  it('V2: the callback signing example validates (lower-case scheme word)', () => {
    expect(contentMd5(V2.rawBody)).toBe('REWF+X220L4/Gw1spXOU7g==');
    expect(verifyRequestAuthorization(V2)).toEqual({ valid: true, scheme: 'signed' });
    expect(verifyRequestAuthorization({ ...V2, rawBody: Buffer.from(V2.rawBody) }).valid).toBe(true);
  });

  it('V2: header names are matched case-insensitively', () => {
    const headers = {
      Authorization: V2.headers.authorization,
      'Content-Type': 'application/json',
      'X-Timestamp': '2014-09-24T10:59:41Z',
    };
    expect(verifyRequestAuthorization({ ...V2, headers }).valid).toBe(true);
  });

  const withHeaders = (changes: HeaderBag) => ({ ...V2, headers: { ...V2.headers, ...changes } });
  const negatives: Array<[string, Parameters<typeof verifyRequestAuthorization>[0], number]> = [
    ['another path', { ...V2, path: '/not/that/path' }, 40102],
    ['method GET', { ...V2, method: 'GET' }, 40102],
    ['another timestamp', withHeaders({ 'x-timestamp': '2019-11-03T10:59:41Z' }), 40102],
    ['content-type text/html', withHeaders({ 'x-timestamp': '2019-11-03T10:59:41Z', 'content-type': 'text/html' }), 40102],
    ['another body', { ...V2, rawBody: '{"hello":"world"}' }, 40102],
    [
      "scheme word 'authorization'",
      withHeaders({ authorization: V2.headers.authorization!.toString().replace('application', 'authorization') }),
      40100,
    ],
    ['a short signature', withHeaders({ authorization: 'application 669E367E-6BBA-48AB-AF15-266871C28135:bdJO/XUVvIsb5SlZAKmvfw==' }), 40102],
    ['no Authorization header', withHeaders({ authorization: undefined }), 40100],
  ];

  it.each(negatives)('V2 .NET negative case fails: %s', (_name, input, errorCode) => {
    expect(verifyRequestAuthorization(input)).toMatchObject({ valid: false, errorCode });
  });

  it('V9: a captured Sinch callback validates', () => {
    const result = verifyRequestAuthorization({
      applicationKey: '789',
      applicationSecret: '9876543210',
      method: 'POST',
      path: '/VerificationRequestEvent',
      rawBody:
        '{"id":"018c25e1-7163-5677-b8fb-467d7b1cffa5","event":"VerificationResultEvent","method":"sms","identity":{"verified":false,"type":"number","endpoint":"+33628254417"},"status":"FAIL","reason":"Expired"}',
      headers: {
        authorization: 'application 789:xfKhO0XvlRNJraahUBEJzzi1f3Fn3pYO41/ZzwOHPaQ=',
        'content-type': 'application/json; charset=utf-8',
        'x-timestamp': '2023-12-01T15:01:20.0406449Z',
      },
      allowBasic: false,
    });
    expect(result).toEqual({ valid: true, scheme: 'signed' });
  });

  it('refuses a wrong key (40107), a missing x-timestamp (40101) and a double space (40100)', () => {
    const header = V2.headers.authorization as string;
    expect(verifyRequestAuthorization({ ...V2, applicationKey: 'other' })).toMatchObject({ errorCode: 40107 });
    expect(verifyRequestAuthorization(withHeaders({ 'x-timestamp': undefined }))).toMatchObject({ errorCode: 40101 });
    expect(verifyRequestAuthorization(withHeaders({ authorization: header.replace(' ', '  ') }))).toMatchObject({
      errorCode: 40100,
    });
    expect(verifyRequestAuthorization(withHeaders({ authorization: `application ${V2.applicationKey}` }))).toMatchObject({
      errorCode: 40107,
    });
  });

  it('checks the timestamp age only when asked, against the injected clock', () => {
    const at = (iso: string) => () => new Date(iso);
    const fresh = { ...V2, maxTimestampSkewSeconds: 600 };
    expect(verifyRequestAuthorization({ ...fresh, now: at('2014-09-24T11:05:00Z') }).valid).toBe(true);
    expect(verifyRequestAuthorization({ ...fresh, now: at('2014-09-24T11:20:00Z') })).toMatchObject({ errorCode: 40101 });
    expect(verifyRequestAuthorization({ ...fresh, now: at('2014-09-24T10:40:00Z') })).toMatchObject({ errorCode: 40101 });
  });

  describe('Basic', () => {
    const basic = {
      applicationKey: 'key-1',
      applicationSecret: 'c2VjcmV0LXNlY3JldA==',
      method: 'GET',
      path: '/x',
      rawBody: undefined,
      allowBasic: true,
    };
    const auth = (value: string) => ({ ...basic, headers: { authorization: value } });

    it('accepts base64(key:secret) with the secret used as-is', () => {
      expect(basicAuthorization('key-1', 'c2VjcmV0LXNlY3JldA==')).toBe(`Basic ${Buffer.from('key-1:c2VjcmV0LXNlY3JldA==').toString('base64')}`);
      expect(verifyRequestAuthorization(auth(basicAuthorization('key-1', 'c2VjcmV0LXNlY3JldA==')))).toEqual({
        valid: true,
        scheme: 'basic',
      });
      expect(verifyRequestAuthorization(auth(basicAuthorization('key-1', 'c2VjcmV0LXNlY3JldA==').replace('Basic', 'BASIC'))).valid).toBe(true);
    });

    it('refuses wrong credentials, the raw key:secret form, and Basic when not allowed', () => {
      expect(verifyRequestAuthorization(auth(basicAuthorization('key-1', 'nope')))).toMatchObject({ errorCode: 40107 });
      expect(verifyRequestAuthorization(auth('Basic key-1:c2VjcmV0LXNlY3JldA=='))).toMatchObject({ valid: false });
      expect(verifyRequestAuthorization({ ...auth(basicAuthorization('key-1', 'c2VjcmV0LXNlY3JldA==')), allowBasic: false })).toMatchObject({
        errorCode: 40107,
      });
    });
  });
});
