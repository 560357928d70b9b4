/** Audit (auditor; R-AUDIT): events by user and time, newest first, paged as the API pages, and the
 * hash chain's verification state for a span of days. */

import { useEffect, useState } from "preact/hooks";

import type { Api } from "../api";
import { ErrorMessage, FormActions, formatTime, InputField, Status, toInstant, toLocalInput } from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";

const PAGE_SIZE = 50;
const DAY_MS = 24 * 3600 * 1000;

interface AuditEvent {
  event_id: string;
  at: string;
  user: string | null;
  groups: string[];
  lea: string | null;
  method: string;
  route: string;
  parameters: Record<string, unknown>;
  purpose: string | null;
  reason: string | null;
  case_ref: string | null;
  status: number;
  result_count: number | null;
  request_id: string | null;
  source_ip: string | null;
}

interface AuditPage {
  events: AuditEvent[];
  next_page_token: string | null;
}

interface ChainBreak {
  chain_day: string;
  seq: number;
  reason: string;
  detail: string;
}

interface VerifyReport {
  intact: boolean;
  days: string[];
  records: number;
  first_break: ChainBreak | null;
  breaks: ChainBreak[];
}

interface Filter {
  user: string;
  from: string;
  to: string;
  action: string;
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function Audit({ api }: ScreenProps) {
  const now = new Date();
  const [draft, setDraft] = useState<Filter>({
    user: "",
    from: toLocalInput(new Date(now.getTime() - DAY_MS)),
    to: "",
    action: "",
  });
  const [filter, setFilter] = useState<Filter>(draft);
  const [pages, setPages] = useState<AuditPage[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  async function load(query: Filter, pageToken: string | null) {
    setLoading(true);
    setError(null);
    if (!pageToken) setPages([]); // a new query: never show the previous query's rows as its answer
    try {
      const page = await api.get<AuditPage>("audit", {
        user: query.user.trim(),
        from: toInstant(query.from),
        to: toInstant(query.to),
        action: query.action.trim(),
        limit: PAGE_SIZE,
        page_token: pageToken,
      });
      setPages((current) => (pageToken ? [...current, page] : [page]));
    } catch (exc) {
      setError(exc);
      if (!pageToken) setPages([]);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    void load(filter, null);
  }, [filter]);

  const events = pages.flatMap((p) => p.events);
  const next = pages.length ? pages[pages.length - 1]?.next_page_token ?? null : null;

  return (
    <div class="audit">
      <ChainState api={api} />
      <section aria-labelledby="events-heading" class="events" aria-busy={loading}>
        <h2 id="events-heading">Events</h2>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter({ ...draft });
          }}
        >
          <InputField
            label="User"
            hint="A username; empty for everyone you may see."
            maxLength={128}
            value={draft.user}
            onValue={(user) => setDraft({ ...draft, user })}
          />
          <InputField
            label="From"
            hint="Your local time; at most 31 days back."
            type="datetime-local"
            value={draft.from}
            onValue={(from) => setDraft({ ...draft, from })}
          />
          <InputField
            label="To"
            hint="Empty for now."
            type="datetime-local"
            value={draft.to}
            onValue={(to) => setDraft({ ...draft, to })}
          />
          <InputField
            label="Action"
            hint="Method, route or both, e.g. GET /alerts."
            maxLength={220}
            value={draft.action}
            onValue={(action) => setDraft({ ...draft, action })}
          />
          <FormActions submit="Show events" disabled={loading} />
        </form>
        <ErrorMessage error={error} />
        {!loading && !error && events.length === 0 ? <p>No events match.</p> : null}
        {events.length > 0 ? (
          <table class="data">
            <caption>
              {events.length} event{events.length === 1 ? "" : "s"}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">User</th>
                <th scope="col">Groups</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Results</th>
                <th scope="col">Why</th>
                <th scope="col">Parameters</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.event_id} data-event-id={event.event_id}>
                  <td>{formatTime(event.at)}</td>
                  <td>{event.user ?? "unknown"}</td>
                  <td>{event.groups.join(", ")}</td>
                  <th scope="row">
                    {event.method} {event.route}
                  </th>
                  <td>{event.status}</td>
                  <td>{event.result_count ?? ""}</td>
                  <td>{[event.purpose, event.reason, event.case_ref].filter(Boolean).join(" · ")}</td>
                  <td class="parameters">
                    <code>{JSON.stringify(event.parameters)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {next ? (
          <button type="button" class="secondary" disabled={loading} onClick={() => void load(filter, next)}>
            More events
          </button>
        ) : null}
      </section>
    </div>
  );
}

function ChainState({ api }: { api: Api }) {
  const today = utcDay(new Date());
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function verify(first: string, last: string) {
    setBusy(true);
    setError(null);
    try {
      setReport(await api.get<VerifyReport>("audit/verify", { from: first, to: last }));
    } catch (exc) {
      setReport(null);
      setError(exc);
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    void verify(today, today);
  }, []);

  return (
    <section class="panel chain" aria-labelledby="chain-heading">
      <h2 id="chain-heading">Audit chain</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void verify(from, to || from);
        }}
      >
        <InputField label="First day" hint="UTC day." type="date" required value={from} onValue={setFrom} />
        <InputField label="Last day" hint="UTC day." type="date" value={to} onValue={setTo} />
        <FormActions submit="Verify chain" disabled={busy} />
      </form>
      {report ? (
        report.intact ? (
          <Status>
            <span class="verdict ok">Chain intact</span>: {report.records} record{report.records === 1 ? "" : "s"} over{" "}
            {report.days.join(", ") || "no days"} verified.
          </Status>
        ) : (
          <div role="alert" class="verdict-broken">
            <p>
              <span class="verdict broken">Chain broken</span>: {report.breaks.length} break
              {report.breaks.length === 1 ? "" : "s"} in {report.records} records.
            </p>
            <ul>
              {report.breaks.map((b) => (
                <li key={`${b.chain_day}:${b.seq}`}>
                  {b.chain_day} record {b.seq}: {b.reason} ({b.detail})
                </li>
              ))}
            </ul>
          </div>
        )
      ) : null}
      <ErrorMessage error={error} />
    </section>
  );
}

export const auditScreen: Screen = {
  id: "audit",
  title: "Audit",
  groups: [Role.AUDITOR],
  view: Audit,
};
