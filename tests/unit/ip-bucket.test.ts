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
});
