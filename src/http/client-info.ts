/** Who is asking, as the HTTP layer saw it: recorded on sessions and in the audit trail. */
export interface ClientInfo {
  /** The client's address: the socket's, or X-Forwarded-For's when the peer is a trusted proxy. */
  ip: string;
  /** Control characters removed, at most the first USER_AGENT_LENGTH characters (contract). */
  userAgent?: string;
}

/** At most this many characters of a User-Agent are kept, on sessions and in the audit trail alike. */
export const USER_AGENT_LENGTH = 256;
