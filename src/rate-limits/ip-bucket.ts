import ipaddr from 'ipaddr.js';

/**
 * The bucket an address counts in. An IPv6 client usually holds a whole /64 (one customer's
 * network), so counting per full address would give it 2^64 fresh buckets; IPv4-mapped IPv6 is
 * its IPv4 address.
 */
export function ipBucket(address: string): string {
  const bare = withoutPort(address);
  // Only the forms proxies write: dotted decimal IPv4 (not octal or hex spellings of another
  // address) or IPv6. Anything else shares one bucket rather than getting one per spelling.
  const ipv4 = ipaddr.IPv4.isValidFourPartDecimal(bare);
  if (!ipv4 && !ipaddr.IPv6.isValid(bare)) return 'unparseable';
  const parsed = ipaddr.process(bare);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const hextets = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${hextets.join(':')}::/64`;
}

/** `203.0.113.5:1234`, `[2001:db8::1]:443` and `[::1]` (as some proxies append them) → the address alone. */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1];
  const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  return ipv4WithPort ? ipv4WithPort[1] : address;
}

/**
 * An address as stored and shown: IPv4-mapped IPv6 as IPv4, IPv6 compressed. Anything that is not
 * an address (a proxy's odd X-Forwarded-For entry) is kept printable and short.
 */
export function canonicalAddress(address: string): string {
  if (ipaddr.isValid(address)) return ipaddr.process(address).toString();
  return address.replace(/[^\x21-\x7e]/g, '').slice(0, 64);
}
