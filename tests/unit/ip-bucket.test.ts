import { describe, expect, it } from 'vitest';
import { ipBucket } from '../../src/rate-limits/ip-bucket';

describe('ipBucket', () => {
  it('counts a whole IPv6 /64 as one client', () => {
    expect(ipBucket('2001:db8:1:1::1')).toBe(ipBucket('2001:db8:1:1:ffff:ffff:ffff:ffff'));
    expect(ipBucket('2001:db8:1:1::1')).not.toBe(ipBucket('2001:db8:1:2::1'));
  });

  it('keeps IPv4 addresses, also when written as IPv4-mapped IPv6', () => {
    expect(ipBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(ipBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  // Regression (attack review): a proxy appending `ip:port` gave each connection a bucket of its own.
  it('reads the forms proxies append (a port, brackets) as the address, and puts other spellings in one bucket', () => {
    expect(ipBucket('203.0.113.5:1234')).toBe('203.0.113.5');
    expect(ipBucket('[::ffff:203.0.113.5]')).toBe('203.0.113.5');
    expect(ipBucket('[2001:db8:1:1::1]:443')).toBe(ipBucket('2001:db8:1:1::2'));
    expect(ipBucket('0203.0000.0113.0005')).toBe('unparseable');
    expect(ipBucket('0xcb.0.113.5')).toBe(ipBucket('not an address'));
  });
});
