/** The console shell: sign-in, then the screens the user's groups allow, one at a time under a
 * hash route (`#/alerts`), so the browser's back button works and no server routing is needed. */

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

import { createApi } from "./api";
import { answerCode, type Session, signIn, SignInError, type SignInStep } from "./auth";
import { ErrorMessage, Field, formatTime, Status } from "./components/ui";
import type { ConsoleConfig } from "./config";
import { type Screen, screensFor } from "./screen";

/** Signs out this long before the token's own expiry, so no request leaves with a token that
 * expires in flight. */
const EXPIRY_MARGIN_MS = 5_000;

function routeId(): string {
  return window.location.hash.replace(/^#\/?/, "");
}

export function App(props: { config: ConsoleConfig; screens: readonly Screen[] }) {
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why: string | null) => {
    setSession(null);
    setNotice(why);
  }, []);

  useEffect(() => {
    if (!session) return;
    const check = () => {
      if (Date.now() >= session.expiresAt - EXPIRY_MARGIN_MS) signOut("Your session expired. Sign in again.");
    };
    const timer = window.setTimeout(check, Math.max(0, session.expiresAt - EXPIRY_MARGIN_MS - Date.now()));
    // Timers are throttled in background tabs; check again when the tab comes back.
    document.addEventListener("visibilitychange", check);
    return () => {
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", check);
    };
  }, [session, signOut]);

  if (!session) {
    return (
      <SignIn
        config={props.config}
        notice={notice}
        onSignedIn={(s) => {
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Shell
      config={props.config}
      screens={props.screens}
      session={session}
      onSignOut={(why) => signOut(why)}
    />
  );
}

function SignIn(props: { config: ConsoleConfig; notice: string | null; onSignedIn: (session: Session) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [challenge, setChallenge] = useState<{ username: string; challengeSession: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const codeInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (challenge) codeInput.current?.focus();
  }, [challenge]);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const next: SignInStep = challenge
        ? await answerCode(props.config, challenge.username, challenge.challengeSession, code.trim())
        : await signIn(props.config, username.trim(), password);
      if (next.kind === "signed-in") {
        setPassword("");
        props.onSignedIn(next.session);
      } else {
        setChallenge({ username: next.username, challengeSession: next.challengeSession });
      }
    } catch (exc) {
      setError(exc instanceof SignInError ? exc : new SignInError("Sign-in failed."));
      if (challenge) setChallenge(null); // a Cognito session answers one code; start again
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="sign-in">
      <h1>NAS console</h1>
      <p>Sign in with your NAS account.</p>
      {props.notice ? <Status>{props.notice}</Status> : null}
      <form onSubmit={submit} aria-describedby="sign-in-help">
        {challenge ? (
          <Field label="Code" hint="The six-digit code from your authenticator app.">
            {(id, hint) => (
              <input
                id={id}
                ref={codeInput}
                aria-describedby={hint}
                name="code"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                required
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            )}
          </Field>
        ) : (
          <>
            <Field label="Username">
              {(id) => (
                <input
                  id={id}
                  name="username"
                  autoComplete="username"
                  required
                  value={username}
                  onInput={(e) => setUsername(e.currentTarget.value)}
                />
              )}
            </Field>
            <Field label="Password">
              {(id) => (
                <input
                  id={id}
                  name="password"
                  type="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onInput={(e) => setPassword(e.currentTarget.value)}
                />
              )}
            </Field>
          </>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <p id="sign-in-help" class="hint">
          Your session ends when you sign out, close this tab, or your sign-in expires.
        </p>
      </form>
      <ErrorMessage error={error} />
    </main>
  );
}

function Shell(props: {
  config: ConsoleConfig;
  screens: readonly Screen[];
  session: Session;
  onSignOut: (why: string | null) => void;
}) {
  const { session, onSignOut } = props;
  const visible = useMemo(() => screensFor(props.screens, session.groups), [props.screens, session.groups]);
  const [route, setRoute] = useState(routeId);
  const heading = useRef<HTMLHeadingElement>(null);
  // The token is read at call time, so a screen's calls always carry the current one.
  const tokenRef = useRef(session.idToken);
  tokenRef.current = session.idToken;
  const api = useMemo(
    () =>
      createApi(
        props.config,
        () => tokenRef.current,
        (why) => onSignOut(`Signed out: ${why}`),
      ),
    [props.config, onSignOut],
  );

  useEffect(() => {
    const onHash = () => setRoute(routeId());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const screen = visible.find((s) => s.id === route) ?? visible[0];

  useEffect(() => {
    // Moving focus to the new screen's heading tells keyboard and screen-reader users where they are.
    heading.current?.focus();
  }, [screen?.id]);

  const View = screen?.view;
  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          heading.current?.focus();
        }}
      >
        Skip to main content
      </a>
      <header class="top">
        <p class="brand">NAS console</p>
        <p class="who">
          Signed in as <strong>{session.username}</strong> ({session.groups.join(", ") || "no group"}
          {session.lea ? `, ${session.lea}` : ""}) until {formatTime(new Date(session.expiresAt).toISOString())}
        </p>
        <button type="button" class="secondary" onClick={() => onSignOut("You signed out.")}>
          Sign out
        </button>
      </header>
      {visible.length > 0 ? (
        <nav aria-label="Screens">
          <ul>
            {visible.map((s) => (
              <li key={s.id}>
                <a href={`#/${s.id}`} aria-current={s.id === screen?.id ? "page" : undefined}>
                  {s.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>
          {screen ? screen.title : "No screens"}
        </h1>
        {View && screen ? (
          <View key={screen.id} api={api} session={session} config={props.config} />
        ) : (
          <p>The console has no screens for your role ({session.groups.join(", ") || "no group"}).</p>
        )}
      </main>
    </>
  );
}
