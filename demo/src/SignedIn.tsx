import { useApolloClient, useQuery } from '@apollo/client/react';
import { useState, useSyncExternalStore } from 'react';
import { LogoutDocument, LogoutEverywhereDocument, MeDocument, SessionsDocument } from '../../client/generated/graphql';
import { describeError } from './errors';
import { tokens } from './session';

/** Who is signed in, their sessions, renewal of the access token, sign-out here or everywhere. */
export function SignedIn({ onSignedOut }: { onSignedOut: () => void }) {
  const client = useApolloClient();
  const me = useQuery(MeDocument);
  const sessions = useQuery(SessionsDocument);
  const renewedAt = useSyncExternalStore(
    (listener) => tokens.subscribe(listener),
    () => tokens.lastRenewedAt,
  );
  const [message, setMessage] = useState<string | null>(null);

  async function signOut(everywhere: boolean) {
    try {
      if (everywhere) await client.mutate({ mutation: LogoutEverywhereDocument });
      else await client.mutate({ mutation: LogoutDocument });
    } catch (caught) {
      setMessage(describeError(caught).message);
    }
    tokens.clear();
    await client.clearStore();
    onSignedOut();
  }

  async function renewNow() {
    setMessage((await tokens.renew()) ? null : 'Your session has ended. Please sign in again.');
    await sessions.refetch().catch(() => undefined);
  }

  const user = me.data?.me;
  return (
    <section aria-label="Signed in">
      <h2>Signed in</h2>
      {user ? (
        <p role="status">
          Signed in as <strong>{user.email}</strong> ({user.phoneNumber}, {user.phoneVerified ? 'verified' : 'not verified'}). Recovery codes left:{' '}
          {user.recoveryCodesRemaining}.
        </p>
      ) : (
        <p>Loading your account…</p>
      )}
      {renewedAt && <p role="status">Session renewed at {renewedAt.toLocaleTimeString()}.</p>}
      {message && <p role="alert">{message}</p>}
      <h3>Your sessions</h3>
      <ul aria-label="Your sessions">
        {sessions.data?.sessions.map((session) => (
          <li key={session.id}>
            {session.current ? 'This device' : 'Another device'} · signed in {new Date(session.createdAt).toLocaleString()} ·{' '}
            {session.ipAddress ?? 'unknown address'}
          </li>
        ))}
      </ul>
      <div className="actions">
        <button type="button" onClick={renewNow}>
          Renew session now
        </button>
        <button type="button" onClick={() => signOut(false)}>
          Sign out
        </button>
        <button type="button" onClick={() => signOut(true)}>
          Sign out everywhere
        </button>
      </div>
    </section>
  );
}
