import { type ReactElement, useEffect, useState, useSyncExternalStore } from 'react';
import type { PendingAuthFieldsFragment } from '../../client/generated/graphql';
import { Credentials } from './Credentials';
import { SecondFactor } from './SecondFactor';
import { tokens } from './session';
import { SignedIn } from './SignedIn';

/** Sign in or up → second factor → signed in; a reload resumes the session with the refresh token. */
export function App() {
  const signedIn = useSyncExternalStore(
    (listener) => tokens.subscribe(listener),
    () => tokens.signedIn,
  );
  const [pending, setPending] = useState<PendingAuthFieldsFragment | null>(null);
  const [resuming, setResuming] = useState(() => tokens.refreshToken !== null);

  useEffect(() => {
    if (resuming) void tokens.renew().finally(() => setResuming(false));
  }, [resuming]);

  let screen: ReactElement;
  if (resuming) screen = <p>Resuming your session…</p>;
  else if (signedIn) screen = <SignedIn onSignedOut={() => setPending(null)} />;
  else if (pending) screen = <SecondFactor pending={pending} onCancel={() => setPending(null)} />;
  else screen = <Credentials onPending={setPending} />;

  return (
    <main>
      <h1>Sign-in demo</h1>
      {screen}
    </main>
  );
}
