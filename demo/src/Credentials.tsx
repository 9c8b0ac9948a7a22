import { useApolloClient } from '@apollo/client/react';
import { type FormEvent, useState } from 'react';
import { LoginDocument, type PendingAuthFieldsFragment, RegisterDocument } from '../../client/generated/graphql';
import { describeError, type ServiceError } from './errors';

/** Email and password (and a phone number to create an account): the first factor. */
export function Credentials({ onPending }: { onPending: (pending: PendingAuthFieldsFragment) => void }) {
  const client = useApolloClient();
  const [mode, setMode] = useState<'signIn' | 'register'>('signIn');
  const [error, setError] = useState<ServiceError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    setBusy(true);
    setError(null);
    try {
      if (mode === 'register') {
        const { data } = await client.mutate({
          mutation: RegisterDocument,
          variables: { input: { email, password, phoneNumber: String(form.get('phoneNumber')) } },
        });
        onPending(data!.register);
      } else {
        const { data } = await client.mutate({ mutation: LoginDocument, variables: { input: { email, password } } });
        onPending(data!.login);
      }
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (field: string) => (error?.field === field ? <span role="alert">{error.message}</span> : null);
  return (
    <form onSubmit={submit}>
      <h2>{mode === 'register' ? 'Create an account' : 'Sign in'}</h2>
      <label>
        Email
        <input name="email" type="email" autoComplete="username" required />
      </label>
      {fieldError('email')}
      <label>
        Password
        <input name="password" type="password" autoComplete={mode === 'register' ? 'new-password' : 'current-password'} required />
      </label>
      {fieldError('password')}
      {mode === 'register' && (
        <>
          <label>
            Phone number
            <input name="phoneNumber" type="tel" autoComplete="tel" placeholder="+44 7400 123456" required />
          </label>
          {fieldError('phoneNumber')}
        </>
      )}
      {error && !error.field && <p role="alert">{error.message}</p>}
      <button type="submit" disabled={busy}>
        {mode === 'register' ? 'Create account' : 'Sign in'}
      </button>
      <button
        type="button"
        className="link"
        onClick={() => {
          setMode(mode === 'register' ? 'signIn' : 'register');
          setError(null);
        }}
      >
        {mode === 'register' ? 'I already have an account' : 'Create an account instead'}
      </button>
    </form>
  );
}
