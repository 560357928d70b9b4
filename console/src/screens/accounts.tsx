/** Accounts (admin; R-ACCOUNT): every account with its groups, force, status and last use, filtered
 * and paged as the API pages; a suspended or disabled account reinstated; a leaver's account disabled
 * at once (the API disables the user in the pool, signs them out everywhere and refuses their
 * remaining token within a minute); and the account reviews the daily job opens (idle accounts
 * suspended, role changes) decided. Which decision fits which review is the API's to judge. */

import { useEffect, useRef, useState } from "preact/hooks";

import { ErrorMessage, FormActions, formatTime, InputField, SelectField, Status, useAction } from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";

const ACCOUNTS_PAGE = 25;
const REVIEWS_PAGE = 50;
const STATES = ["active", "suspended", "disabled", "removed"] as const;
/** The decisions each kind of review takes (`DecisionRequest` in docs/openapi.json). */
const DECISIONS: Record<string, readonly string[]> = {
  idle: ["reinstate", "keep-suspended", "remove"],
  "role-change": ["confirm", "remove"],
};
const KIND_LABEL: Record<string, string> = { idle: "Idle account", "role-change": "Role change" };
const REVIEW_STATES = [
  ["open", "Open"],
  ["decided", "Decided"],
] as const;

interface Account {
  username: string;
  groups: string[];
  lea: string | null;
  status: string;
  enabled: boolean;
  created_at: string;
  last_sign_in_at: string | null;
  last_api_request_at: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
}

interface AccountPage {
  accounts: Account[];
  next_page_token: string | null;
  sign_in_history: boolean;
}

interface DisabledAccount {
  username: string;
  disabled: boolean;
  disabled_at: string | null;
  disabled_by: string | null;
}

interface ReinstatedAccount {
  username: string;
  disabled: boolean;
  reinstated_at: string | null;
  reinstated_by: string | null;
}

interface Review {
  review_id: string;
  username: string;
  kind: string;
  state: string;
  opened_at: string;
  opened_by: string;
  due_at: string;
  overdue: boolean;
  last_used_at: string | null;
  kept: string | null;
  groups_before: string[] | null;
  groups_after: string[] | null;
  lea_before: string | null;
  lea_after: string | null;
  decision: string | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
}

interface ReviewPage {
  reviews: Review[];
  next_page_token: string | null;
}

interface AccountFilter {
  status: string;
  lea: string;
  group: string;
}

function Accounts({ api }: ScreenProps) {
  // Bumped when an action here changes an account, so the list shows it.
  const [changes, setChanges] = useState(0);
  const changed = () => setChanges((n) => n + 1);
  return (
    <div class="accounts">
      <AccountList api={api} changes={changes} onChange={changed} />
      <DisableAccount api={api} onChange={changed} />
      <Reviews api={api} onChange={changed} />
    </div>
  );
}

function AccountList({ api, changes, onChange }: { api: ScreenProps["api"]; changes: number; onChange: () => void }) {
  const [draft, setDraft] = useState<AccountFilter>({ status: "", lea: "", group: "" });
  const [filter, setFilter] = useState<AccountFilter>(draft);
  // tokens[i] asks for page i (page 0 needs none); the API hands out the next one with each page.
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<AccountPage | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [reinstating, setReinstating] = useState<Account | null>(null);
  const [reason, setReason] = useState("");
  const [reinstated, setReinstated] = useState<ReinstatedAccount | null>(null);
  const reinstatement = useAction();
  const reasonInput = useRef<HTMLInputElement>(null);
  const index = tokens.length - 1;

  useEffect(() => {
    let stopped = false;
    setBusy(true);
    api
      .get<AccountPage>("admin/accounts", {
        status: filter.status,
        lea: filter.lea.trim().toUpperCase(),
        group: filter.group,
        limit: ACCOUNTS_PAGE,
        page_token: tokens[index],
      })
      .then(
        (found) => {
          if (stopped) return;
          setPage(found);
          setError(null);
        },
        (exc: unknown) => {
          if (!stopped) setError(exc);
        },
      )
      .finally(() => {
        if (!stopped) setBusy(false);
      });
    return () => {
      stopped = true;
    };
  }, [api, filter, tokens, changes]);

  useEffect(() => {
    if (reinstating) reasonInput.current?.focus();
  }, [reinstating]);

  function reinstate(account: Account) {
    return reinstatement.run(async () => {
      setReinstated(
        await api.post<ReinstatedAccount>(`admin/accounts/${encodeURIComponent(account.username)}/reinstate`, {
          reason: reason.trim(),
        }),
      );
      setReinstating(null);
      setReason("");
      onChange();
    });
  }

  const set = <K extends keyof AccountFilter>(key: K, value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const accounts = page?.accounts ?? [];
  const first = index * ACCOUNTS_PAGE + 1;

  return (
    <section aria-labelledby="accounts-heading">
      <h2 id="accounts-heading">Account list</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ ...draft });
          setTokens([null]);
        }}
      >
        <SelectField label="Status" options={STATES} value={draft.status} onValue={(v) => set("status", v)}>
          <option value="">Any</option>
        </SelectField>
        <SelectField label="Group" options={Object.values(Role)} value={draft.group} onValue={(v) => set("group", v)}>
          <option value="">Any</option>
        </SelectField>
        <InputField
          label="Force"
          hint="LEA code, e.g. KENT."
          maxLength={16}
          autoComplete="off"
          value={draft.lea}
          onValue={(v) => set("lea", v)}
        />
        <FormActions submit="Show accounts" />
      </form>
      {reinstated ? (
        <Status>
          {reinstated.username} reinstated at {formatTime(reinstated.reinstated_at)} by {reinstated.reinstated_by}.
        </Status>
      ) : null}
      {reinstating ? (
        <form
          class="panel confirm"
          aria-labelledby="reinstate-text"
          onSubmit={(e) => {
            e.preventDefault();
            void reinstate(reinstating);
          }}
        >
          <p id="reinstate-text">
            Reinstate <strong>{reinstating.username}</strong> ({reinstating.status})? They can sign in again at once.
          </p>
          <InputField
            label="Reason"
            hint="Why the account may be used again; 10 to 500 characters."
            ref={reasonInput}
            required
            minLength={10}
            maxLength={500}
            value={reason}
            onValue={setReason}
          />
          <FormActions submit="Confirm reinstate">
            <button type="button" class="secondary" onClick={() => setReinstating(null)}>
              Cancel
            </button>
          </FormActions>
          <ErrorMessage error={reinstatement.error} />
        </form>
      ) : null}
      <ErrorMessage error={error} />
      {page && !page.sign_in_history ? (
        <p class="hint">This user pool keeps no sign-in history: last sign-in is unknown, last API request is known.</p>
      ) : null}
      {page && accounts.length === 0 ? <p>No accounts match.</p> : null}
      {accounts.length ? (
        <table class="data account-list" aria-busy={busy ? "true" : "false"}>
          <caption>
            Accounts {first} to {first + accounts.length - 1}
          </caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Groups</th>
              <th scope="col">Force</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">Last API request</th>
              <th scope="col">
                <span class="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <tr key={a.username} data-username={a.username}>
                <th scope="row">{a.username}</th>
                <td>{a.groups.join(", ")}</td>
                <td>{a.lea ?? ""}</td>
                <td>
                  {a.status}
                  {a.disabled_reason ? <span class="hint"> ({a.disabled_reason})</span> : null}
                </td>
                <td>{formatTime(a.created_at)}</td>
                <td>{a.last_sign_in_at ? formatTime(a.last_sign_in_at) : "unknown"}</td>
                <td>{a.last_api_request_at ? formatTime(a.last_api_request_at) : "none"}</td>
                <td>
                  {a.status === "suspended" || a.status === "disabled" ? (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Reinstate ${a.username}`}
                      onClick={() => {
                        setReinstated(null);
                        reinstatement.setError(null);
                        setReinstating(a);
                      }}
                    >
                      Reinstate
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="actions pager">
        <button type="button" class="secondary" disabled={index === 0} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!page?.next_page_token}
          onClick={() => {
            const next = page?.next_page_token;
            if (next) setTokens((t) => [...t, next]);
          }}
        >
          Next page
        </button>
      </div>
    </section>
  );
}

function DisableAccount({ api, onChange }: { api: ScreenProps["api"]; onChange: () => void }) {
  const [username, setUsername] = useState("");
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<DisabledAccount | null>(null);
  const disabling = useAction();
  const confirmButton = useRef<HTMLButtonElement>(null);

  async function disable() {
    await disabling.run(async () => {
      setResult(
        await api.post<DisabledAccount>(`admin/accounts/${encodeURIComponent(username.trim())}/disable`, {
          reason: reason.trim(),
        }),
      );
      setUsername("");
      setReason("");
      onChange();
    });
    setConfirming(false);
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
        <InputField
          label="Username"
          required
          maxLength={128}
          autoComplete="off"
          value={username}
          disabled={confirming}
          onValue={setUsername}
        />
        <InputField
          label="Reason"
          hint="Why, e.g. the leaver's HR reference; 10 to 500 characters."
          required
          minLength={10}
          maxLength={500}
          value={reason}
          disabled={confirming}
          onValue={setReason}
        />
        {confirming ? null : <FormActions submit="Disable account" />}
      </form>
      {confirming ? (
        <div class="panel confirm" role="group" aria-labelledby="confirm-text">
          <p id="confirm-text">
            Disable <strong>{username.trim()}</strong> now? This cannot be undone from the console.
          </p>
          <div class="actions">
            <button
              type="button"
              class="danger"
              ref={confirmButton}
              disabled={disabling.busy}
              onClick={() => void disable()}
            >
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
      <ErrorMessage error={disabling.error} />
    </section>
  );
}

/** What a review is about, in words: the idle account's last use, or the roles before and after. */
function subject(r: Review): string {
  if (r.kind === "idle") {
    const kept = r.kept ? ` (left enabled: ${r.kept})` : "";
    return `Last used ${formatTime(r.last_used_at)}${kept}`;
  }
  const before = r.groups_before ? `${r.groups_before.join(", ") || "no groups"} (${r.lea_before ?? "no force"})` : "new account";
  return `${before} to ${(r.groups_after ?? []).join(", ") || "no groups"} (${r.lea_after ?? "no force"})`;
}

function Reviews({ api, onChange }: { api: ScreenProps["api"]; onChange: () => void }) {
  const [reviewState, setReviewState] = useState("open");
  const [shown, setShown] = useState("open");
  const [reviews, setReviews] = useState<Review[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [deciding, setDeciding] = useState<Review | null>(null);
  const [decision, setDecision] = useState("");
  const [reason, setReason] = useState("");
  const [decided, setDecided] = useState<Review | null>(null);
  const recording = useAction();
  const decisionSelect = useRef<HTMLSelectElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  async function load(state: string, token: string | null) {
    try {
      const page = await api.get<ReviewPage>("admin/reviews", { state, limit: REVIEWS_PAGE, page_token: token });
      setReviews((current) => (token ? [...current, ...page.reviews] : page.reviews));
      setNext(page.next_page_token);
      setShown(state);
      setError(null);
    } catch (exc) {
      setError(exc);
    } finally {
      setLoaded(true);
    }
  }

  useEffect(() => {
    void load("open", null);
  }, [api]);

  useEffect(() => {
    if (deciding) decisionSelect.current?.focus();
  }, [deciding]);

  function decide(review: Review) {
    return recording.run(async () => {
      const done = await api.post<Review>(`admin/reviews/${encodeURIComponent(review.review_id)}`, {
        decision,
        reason: reason.trim(),
      });
      setDecided(done);
      setReviews((current) => current.map((r) => (r.review_id === done.review_id ? done : r)));
      setDeciding(null);
      setReason("");
      setDecision("");
      onChange();
      heading.current?.focus();
    });
  }

  return (
    <section aria-labelledby="reviews-heading">
      <h2 id="reviews-heading" tabIndex={-1} ref={heading}>
        Account reviews
      </h2>
      <p>
        The daily job suspends accounts unused for 90 days and notes every change of groups or force; each opens a
        review for an administrator to decide.
      </p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setDeciding(null);
          setDecided(null);
          void load(reviewState, null);
        }}
      >
        <SelectField label="Review state" options={REVIEW_STATES} value={reviewState} onValue={setReviewState} />
        <FormActions submit="Show reviews" />
      </form>
      {decided ? (
        <Status>
          Review of {decided.username} decided: {decided.decision}, by {decided.decided_by} at{" "}
          {formatTime(decided.decided_at)}.
        </Status>
      ) : null}
      {deciding ? (
        <form
          class="panel confirm"
          aria-labelledby="decide-text"
          onSubmit={(e) => {
            e.preventDefault();
            void decide(deciding);
          }}
        >
          <p id="decide-text">
            Decide the review of <strong>{deciding.username}</strong> ({KIND_LABEL[deciding.kind] ?? deciding.kind}:{" "}
            {subject(deciding)}).
          </p>
          <SelectField
            label="Decision"
            ref={decisionSelect}
            required
            options={DECISIONS[deciding.kind] ?? []}
            value={decision}
            onValue={setDecision}
          >
            <option value="">Choose a decision</option>
          </SelectField>
          <InputField
            label="Reason"
            hint="Why you decided so; 10 to 500 characters."
            required
            minLength={10}
            maxLength={500}
            value={reason}
            onValue={setReason}
          />
          <FormActions submit="Record decision" disabled={recording.busy}>
            <button type="button" class="secondary" onClick={() => setDeciding(null)}>
              Cancel
            </button>
          </FormActions>
          <ErrorMessage error={recording.error} />
        </form>
      ) : null}
      <ErrorMessage error={error} />
      {loaded && reviews.length === 0 ? <p>No {shown} reviews.</p> : null}
      {reviews.length ? (
        <table class="data review-list">
          <caption>{shown === "open" ? "Open reviews, soonest due first" : "Decided reviews"}</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Kind</th>
              <th scope="col">What changed</th>
              <th scope="col">Opened</th>
              <th scope="col">Due</th>
              <th scope="col">Decision</th>
              <th scope="col">
                <span class="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {reviews.map((r) => (
              <tr key={r.review_id} data-review-id={r.review_id} data-username={r.username}>
                <th scope="row">{r.username}</th>
                <td>{KIND_LABEL[r.kind] ?? r.kind}</td>
                <td>{subject(r)}</td>
                <td>
                  {formatTime(r.opened_at)} by {r.opened_by}
                </td>
                <td>
                  {formatTime(r.due_at)}
                  {r.overdue && r.state === "open" ? <span class="badge">Overdue</span> : null}
                </td>
                <td>
                  {r.decision
                    ? `${r.decision} by ${r.decided_by ?? "unknown"} at ${formatTime(r.decided_at)}: ${r.decision_reason ?? ""}`
                    : "Open"}
                </td>
                <td>
                  {r.state === "open" ? (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Decide the review of ${r.username}`}
                      onClick={() => {
                        setDecided(null);
                        recording.setError(null);
                        setDecision("");
                        setDeciding(r);
                      }}
                    >
                      Decide
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {next ? (
        <button type="button" class="secondary" onClick={() => void load(shown, next)}>
          More reviews
        </button>
      ) : null}
    </section>
  );
}

export const accountsScreen: Screen = {
  id: "accounts",
  title: "Accounts",
  groups: [Role.ADMIN],
  view: Accounts,
};
