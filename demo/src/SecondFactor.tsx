import { useApolloClient } from '@apollo/client/react';
import { type FormEvent, useEffect, useState } from 'react';
import {
  type OtpChannel,
  OtpStatusDocument,
  type PendingAuthFieldsFragment,
  type RequestOtpMutation,
  RequestOtpDocument,
  VerifyOtpDocument,
  VerifyRecoveryCodeDocument,
} from '../../client/generated/graphql';
import { useSecondsUntil } from './countdown';
import { describeError, type ServiceError } from './errors';
import { tokens } from './session';

type Dispatch = RequestOtpMutation['requestOtp'];
/** After these, the pending token is dead: only a new sign-in helps. */
const FATAL = new Set(['UNAUTHENTICATED', 'OTP_ATTEMPTS_EXCEEDED']);

/** Send a code (SMS or call), resend after the countdown, fall back to a call, verify. */
export function SecondFactor({ pending, onCancel }: { pending: PendingAuthFieldsFragment; onCancel: () => void }) {
  const client = useApolloClient();
  const [dispatch, setDispatch] = useState<Dispatch | null>(null);
  const [deliveryFailed, setDeliveryFailed] = useState(false);
  const [error, setError] = useState<ServiceError | null>(null);
  const [busy, setBusy] = useState(false);
  const [useRecovery, setUseRecovery] = useState(false);
  const resendIn = useSecondsUntil(dispatch?.resendAvailableAt);
  const voiceIn = useSecondsUntil(dispatch?.voiceAvailableAt);
  const { pendingToken } = pending;

  // After a send, ask every 2 s whether the code was reported undelivered (then a call is allowed at once).
  useEffect(() => {
    if (!dispatch || deliveryFailed) return;
    const timer = setInterval(async () => {
      const { data } = await client.query({ query: OtpStatusDocument, variables: { pendingToken } }).catch(() => ({ data: undefined }));
      if (data?.otpStatus.deliveryFailed) {
        setDeliveryFailed(true);
        setDispatch((current) => current && { ...current, ...data.otpStatus });
      }
    }, 2000);
    return () => clearInterval(timer);
  }, [client, dispatch, deliveryFailed, pendingToken]);

  async function run(work: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  }

  const send = (channel: OtpChannel) =>
    run(async () => {
      const { data } = await client.mutate({ mutation: RequestOtpDocument, variables: { input: { pendingToken, channel } } });
      setDispatch(data!.requestOtp);
      setDeliveryFailed(false);
    });

  const verify = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get('secret'));
    return run(async () => {
      if (useRecovery) {
        const { data } = await client.mutate({ mutation: VerifyRecoveryCodeDocument, variables: { input: { pendingToken, recoveryCode: value } } });
        tokens.store(data!.verifyRecoveryCode);
      } else {
        const { data } = await client.mutate({ mutation: VerifyOtpDocument, variables: { input: { pendingToken, code: value } } });
        tokens.store(data!.verifyOtp);
      }
    });
  };

  const canCall = pending.channels.includes('VOICE');
  const channelName = dispatch?.channel === 'VOICE' ? 'a call' : 'SMS';
  return (
    <section aria-label="Second factor">
      <h2>Verify it is you</h2>
      {!dispatch && <p>We will send a one-time code to {pending.phoneNumberHint}.</p>}
      {dispatch && (
        <p role="status">
          We sent a code by {channelName} to {pending.phoneNumberHint}. Attempts left: {dispatch.attemptsRemaining}.
        </p>
      )}
      {deliveryFailed && <p role="alert">The SMS could not be delivered. You can get a call instead, now.</p>}
      {error && <p role="alert">{error.message}</p>}

      {error && FATAL.has(error.code) ? (
        <button type="button" onClick={onCancel}>
          Start again
        </button>
      ) : (
        <>
          {!dispatch && (
            <div className="actions">
              {pending.channels.includes('SMS') && (
                <button type="button" disabled={busy} onClick={() => send('SMS')}>
                  Text me a code
                </button>
              )}
              {canCall && (
                <button type="button" disabled={busy} onClick={() => send('VOICE')}>
                  Call me
                </button>
              )}
            </div>
          )}
          {(dispatch || useRecovery) && (
            <form onSubmit={verify}>
              <label>
                {useRecovery ? 'Recovery code' : 'Code'}
                <input name="secret" autoComplete="one-time-code" inputMode={useRecovery ? 'text' : 'numeric'} required key={String(useRecovery)} />
              </label>
              <button type="submit" disabled={busy}>
                Verify
              </button>
            </form>
          )}
          {dispatch && (
            <div className="actions">
              <button type="button" disabled={busy || resendIn === null || resendIn > 0} onClick={() => send(dispatch.channel)}>
                {resendIn ? `Resend code in ${resendIn} s` : 'Resend code'}
              </button>
              {canCall && dispatch.voiceAvailableAt && (
                <button type="button" disabled={busy || voiceIn === null || voiceIn > 0} onClick={() => send('VOICE')}>
                  {voiceIn ? `Call me instead in ${voiceIn} s` : 'Call me instead'}
                </button>
              )}
            </div>
          )}
          <button
            type="button"
            className="link"
            onClick={() => {
              setUseRecovery(!useRecovery);
              setError(null);
            }}
          >
            {useRecovery ? 'Use a code sent to my phone' : 'I lost my phone: use a recovery code'}
          </button>
        </>
      )}
    </section>
  );
}
