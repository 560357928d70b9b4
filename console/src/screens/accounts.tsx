/** Accounts (admin; R-ACCOUNT): disable a leaver's account at once. The API disables the user in the
 * pool, signs them out everywhere and refuses their remaining token within a minute. */

import { useRef, useState } from "preact/hooks";

import { ErrorMessage, Field, formatTime, Status } from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";

interface DisabledAccount {
  username: string;
  disabled: boolean;
  disabled_at: string | null;
  disabled_by: string | null;
}

function Accounts({ api }: ScreenProps) {
  const [username, setUsername] = useState("");
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<DisabledAccount | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const confirmButton = useRef<HTMLButtonElement>(null);

  async function disable() {
    setBusy(true);
    setError(null);
    try {
      setResult(
        await api.post<DisabledAccount>(`admin/accounts/${encodeURIComponent(username.trim())}/disable`, {
          reason: reason.trim(),
        }),
      );
      setUsername("");
      setReason("");
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  return (
    <section aria-labelledby="disable-heading">
      <h2 id="disable-heading">Disable an account</h2>
      <p>
        A leaver can no longer sign in, is signed out everywhere, and any token they still hold is refused within a
        minute.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setResult(null);
          setConfirming(true);
          window.setTimeout(() => confirmButton.current?.focus(), 0);
        }}
      >
        <Field label="Username">
          {(id) => (
            <input
              id={id}
              required
              maxLength={128}
              value={username}
              disabled={confirming}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field label="Reason" hint="Why, e.g. the leaver's HR reference; 10 to 500 characters.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              required
              minLength={10}
              maxLength={500}
              value={reason}
              disabled={confirming}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          )}
        </Field>
        {confirming ? null : (
          <div class="actions">
            <button type="submit">Disable account</button>
          </div>
        )}
      </form>
      {confirming ? (
        <div class="panel confirm" role="group" aria-labelledby="confirm-text">
          <p id="confirm-text">
            Disable <strong>{username.trim()}</strong> now? This cannot be undone from the console.
          </p>
          <div class="actions">
            <button type="button" class="danger" ref={confirmButton} disabled={busy} onClick={() => void disable()}>
              Confirm disable
            </button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {result ? (
        <Status>
          {result.username} disabled at {formatTime(result.disabled_at)} by {result.disabled_by}.
        </Status>
      ) : null}
      <ErrorMessage error={error} />
    </section>
  );
}

export const accountsScreen: Screen = {
  id: "accounts",
  title: "Accounts",
  groups: [Role.ADMIN],
  view: Accounts,
};
