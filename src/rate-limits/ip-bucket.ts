import ipaddr from 'ipaddr.js';

/**
 * The bucket an address counts in. An IPv6 client usually holds a whole /64 (one customer's
 * network), so counting per full address would give it 2^64 fresh buckets; IPv4-mapped IPv6 is
 * its IPv4 address.
 */
export function ipBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const hextets = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${hextets.join(':')}::/64`;
}

/**
 * An address as stored and shown: IPv4-mapped IPv6 as IPv4, IPv6 compressed. Anything that is not
 * an address (a proxy's odd X-Forwarded-For entry) is kept printable and short.
 */
export function canonicalAddress(address: string): string {
  if (ipaddr.isValid(address)) return ipaddr.process(address).toString();
  return address.replace(/[^\x21-\x7e]/g, '').slice(0, 64);
}
