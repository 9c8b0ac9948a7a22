/** Who is asking, as the HTTP layer saw it: recorded on sessions and in the audit trail. */
export interface ClientInfo {
  /** The client's address: the socket's, or X-Forwarded-For's when the peer is a trusted proxy. */
  ip: string;
  /** Control characters removed; services keep at most the first 256 characters. */
  userAgent?: string;
}
