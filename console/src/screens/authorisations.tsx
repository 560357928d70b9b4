/** Authorisations (authoriser; R-AUTHZ): grant an investigator lookback beyond 90 days for one case
 * and level, list those granted, and revoke one at once (after a confirm step). Who may be granted
 * what, and who may revoke, is the API's to decide: a refusal shows its rule. */

import { useEffect, useRef, useState } from "preact/hooks";

import {
  ErrorMessage,
  FormActions,
  formatTime,
  InputField,
  SelectField,
  Status,
  TextAreaField,
  toInstant,
  toLocalInput,
  useAction,
} from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";
import { type Authorisation, type AuthorisationList, isLive } from "./authorisation";

const DAY_MS = 24 * 3600 * 1000;
const PAGE_SIZE = 50;
/** The levels an authorisation can be for: priority-volume never reaches beyond 90 days. */
const LEVELS = ["serious-complex", "major"] as const;

interface GrantDraft {
  grantee: string;
  case_ref: string;
  level: string;
  max_lookback_days: string;
  expires: string;
  reason: string;
}

function blank(): GrantDraft {
  return {
    grantee: "",
    case_ref: "",
    level: LEVELS[0],
    max_lookback_days: "",
    expires: toLocalInput(new Date(Date.now() + 7 * DAY_MS)),
    reason: "",
  };
}

function stateOf(a: Authorisation, now: number): string {
  if (a.revoked_at) return `Revoked ${formatTime(a.revoked_at)} by ${a.revoked_by ?? "unknown"}`;
  return isLive(a, now) ? "Live" : "Expired";
}

function Authorisations({ api }: ScreenProps) {
  const [draft, setDraft] = useState<GrantDraft>(blank);
  const [granted, setGranted] = useState<Authorisation | null>(null);
  const granting = useAction();
  const [list, setList] = useState<Authorisation[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [listError, setListError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState<Authorisation | null>(null);
  const [revoked, setRevoked] = useState<Authorisation | null>(null);
  const [revoking, setRevoking] = useState(false);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);

  async function load(token: string | null) {
    try {
      const page = await api.get<AuthorisationList>("authorisations", { limit: PAGE_SIZE, page_token: token });
      setList((current) => (token ? [...current, ...page.authorisations] : page.authorisations));
      setNext(page.next_page_token);
      setListError(null);
    } catch (exc) {
      setListError(exc);
    } finally {
      setLoaded(true);
    }
  }

  useEffect(() => {
    void load(null);
  }, [api]);

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  function grant(event: Event) {
    event.preventDefault();
    setGranted(null);
    return granting.run(async () => {
      const made = await api.post<Authorisation>("authorisations", {
        grantee: draft.grantee.trim(),
        case_ref: draft.case_ref.trim(),
        investigation_level: draft.level,
        max_lookback_days: Number(draft.max_lookback_days),
        expires_at: toInstant(draft.expires),
        reason: draft.reason.trim(),
      });
      setGranted(made);
      setList((current) => [made, ...current.filter((a) => a.authorisation_id !== made.authorisation_id)]);
      setDraft(blank());
    });
  }

  async function revoke(target: Authorisation) {
    setRevoking(true);
    setListError(null);
    try {
      const done = await api.delete<Authorisation>(`authorisations/${encodeURIComponent(target.authorisation_id)}`);
      setList((current) => current.map((a) => (a.authorisation_id === done.authorisation_id ? done : a)));
      setRevoked(done);
    } catch (exc) {
      setListError(exc);
    } finally {
      setRevoking(false);
      setConfirming(null);
      listHeading.current?.focus();
    }
  }

  const set = <K extends keyof GrantDraft>(key: K, value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const now = Date.now();

  return (
    <div class="authorisations">
      <section aria-labelledby="grant-heading">
        <h2 id="grant-heading">Grant an authorisation</h2>
        <p>
          Lets one investigator search beyond 90 days for one case at one level, until it expires or is revoked. You
          cannot authorise yourself.
        </p>
        <form class="grant" onSubmit={grant}>
          <InputField
            label="Grantee"
            hint="The investigator's username."
            required
            maxLength={128}
            autoComplete="off"
            value={draft.grantee}
            onValue={(v) => set("grantee", v)}
          />
          <InputField
            label="Case reference"
            required
            maxLength={64}
            autoComplete="off"
            value={draft.case_ref}
            onValue={(v) => set("case_ref", v)}
          />
          <SelectField
            label="Investigation level"
            options={LEVELS}
            value={draft.level}
            onValue={(v) => set("level", v)}
          />
          <InputField
            label="Maximum lookback days"
            hint="1 to 365."
            type="number"
            required
            min={1}
            max={365}
            value={draft.max_lookback_days}
            onValue={(v) => set("max_lookback_days", v)}
          />
          <InputField
            label="Expires"
            hint="Your local time; at most 30 days ahead."
            type="datetime-local"
            required
            value={draft.expires}
            onValue={(v) => set("expires", v)}
          />
          <TextAreaField
            label="Reason"
            hint="Why this lookback is necessary; 10 to 1,000 characters."
            required
            minLength={10}
            maxLength={1000}
            value={draft.reason}
            onValue={(v) => set("reason", v)}
          />
          <FormActions submit="Grant" disabled={granting.busy} />
        </form>
        {granted ? (
          <Status>
            Authorisation granted to {granted.grantee} for case {granted.case_ref} ({granted.investigation_level},{" "}
            {granted.max_lookback_days} days) until {formatTime(granted.expires_at)}.
          </Status>
        ) : null}
        <ErrorMessage error={granting.error} />
      </section>

      <section aria-labelledby="granted-heading">
        <h2 id="granted-heading" tabIndex={-1} ref={listHeading}>
          Authorisations you granted
        </h2>
        {revoked ? (
          <Status>
            The authorisation for {revoked.grantee}, case {revoked.case_ref}, was revoked at{" "}
            {formatTime(revoked.revoked_at)}: searches naming it are refused from now on.
          </Status>
        ) : null}
        {confirming ? (
          <div class="panel confirm" role="group" aria-labelledby="revoke-text">
            <p id="revoke-text">
              Revoke the authorisation for <strong>{confirming.grantee}</strong>, case{" "}
              <strong>{confirming.case_ref}</strong>, now? Searches naming it are refused at once.
            </p>
            <div class="actions">
              <button
                type="button"
                class="danger"
                ref={confirmButton}
                disabled={revoking}
                onClick={() => void revoke(confirming)}
              >
                Confirm revoke
              </button>
              <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                Cancel
              </button>
            </div>
          </div>
        ) : null}
        <ErrorMessage error={listError} />
        {loaded && list.length === 0 ? <p>You have granted no authorisations.</p> : null}
        {list.length ? (
          <table class="data">
            <caption>Newest first</caption>
            <thead>
              <tr>
                <th scope="col">Grantee</th>
                <th scope="col">Case</th>
                <th scope="col">Level</th>
                <th scope="col">Lookback</th>
                <th scope="col">Granted</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.authorisation_id} data-authorisation-id={a.authorisation_id}>
                  <th scope="row">{a.grantee}</th>
                  <td>{a.case_ref}</td>
                  <td>{a.investigation_level}</td>
                  <td>{a.max_lookback_days} days</td>
                  <td>{formatTime(a.granted_at)}</td>
                  <td>{formatTime(a.expires_at)}</td>
                  <td>{stateOf(a, now)}</td>
                  <td>
                    {isLive(a, now) ? (
                      <button
                        type="button"
                        class="secondary"
                        aria-label={`Revoke ${a.grantee}'s authorisation for case ${a.case_ref}`}
                        disabled={confirming !== null}
                        onClick={() => {
                          setRevoked(null);
                          setGranted(null);
                          setConfirming(a);
                        }}
                      >
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {next ? (
          <button type="button" class="secondary" onClick={() => void load(next)}>
            More authorisations
          </button>
        ) : null}
      </section>
    </div>
  );
}

export const authorisationsScreen: Screen = {
  id: "authorisations",
  title: "Authorisations",
  groups: [Role.AUTHORISER],
  view: Authorisations,
};
