import { useEffect, useState } from 'react';

/** Whole seconds until `at` (0 once it has passed), ticking every second; null when there is no such time. */
export function useSecondsUntil(at: string | null | undefined): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  if (!at) return null;
  return Math.max(0, Math.ceil((Date.parse(at) - now) / 1000));
}
