/** Reports (R-STATS, R-RET-367, R-RET-365). Each section shows only to the groups its API route
 * serves, so no one sees a section that would always be refused (the API still decides):
 * - the daily report (analyst, auditor): a UTC day's statistics as charts, reads by hour and alerts
 *   by category, with small counts withheld as the API withholds them;
 * - usage (auditor): searches, read views and refusals per user for a day;
 * - the signed retention statement (auditor, dpo) the daily retention check writes: whether anything
 *   older than the retention period is still held, the oldest object held and what was deleted, by
 *   prefix, and whether the statement's signature checks out against the retention key. The API
 *   checks the signature; the console shows its verdict. */

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

import type { Api, Query } from "../api";
import { Bars, totals } from "../components/bars";
import { ErrorMessage, FormActions, formatTime, InputField, Status } from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";

interface Oldest {
  key: string | null;
  stored_at: string;
  age_days: string;
  key_day: string | null;
}

interface Deleted {
  versions: number;
  bytes: number;
  keys: string[];
  keys_omitted: number;
  failures: number;
}

interface PrefixReport {
  bucket: string;
  prefix: string;
  holds: string;
  versions_listed: number;
  oldest: Oldest | null;
  deleted: Deleted;
}

interface RetentionStatement {
  statement_key: string;
  signature_valid: boolean;
  signing_key_id: string;
  as_of: string;
  written_at: string;
  written_by: string;
  keep_for_days: number;
  within_retention: boolean;
  oldest_age_days: string | null;
  prefixes: PrefixReport[];
}

const COUNT = new Intl.NumberFormat("en-GB");

function bytes(n: number): string {
  if (n < 1024) return `${COUNT.format(n)} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A count as the report gives it: a number, or `<5` when withheld (R-STATS). */
type Count = number | string;

interface DailyReport {
  day: string;
  generated_at: string;
  complete: boolean;
  suppressed_below: number;
  reads_by_lea_hour: { lea: string; hour: string; count: Count }[];
  alerts: { lea: string; source: string; category: string; count: Count }[];
}

interface UserUsage {
  user: string;
  lea: string;
  searches: number;
  read_views: number;
  rows_viewed: number;
  refusals: Record<string, number>;
}

const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));

/** A section over one report route: a Date field, the report of the day asked for (the API's default
 * day on opening), or the API's refusal in its words; focus goes to the heading after a submit. */
function DaySection<T>(props: {
  api: Api;
  name: string;
  title: string;
  intro?: string;
  path: string;
  query: (day: string) => Query;
  hint: string;
  submit: string;
  children: (found: T) => ComponentChildren;
}) {
  const [day, setDay] = useState("");
  const [found, setFound] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  async function load(date: string, focus: boolean) {
    setBusy(true);
    try {
      setFound(await props.api.get<T>(props.path, props.query(date)));
      setError(null);
    } catch (exc) {
      setFound(null);
      setError(exc);
    } finally {
      setBusy(false);
      if (focus) heading.current?.focus();
    }
  }

  useEffect(() => {
    void load("", false);
  }, [props.api]);

  return (
    <section aria-labelledby={`${props.name}-heading`} aria-busy={busy ? "true" : "false"}>
      <h2 id={`${props.name}-heading`} tabIndex={-1} ref={heading}>
        {props.title}
      </h2>
      {props.intro ? <p>{props.intro}</p> : null}
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load(day, true);
        }}
      >
        <InputField label="Date" hint={props.hint} type="date" value={day} onValue={setDay} />
        <FormActions submit={props.submit} disabled={busy} />
      </form>
      <ErrorMessage error={error} />
      {found ? props.children(found) : null}
    </section>
  );
}

function Daily({ api }: { api: Api }) {
  return (
    <DaySection<DailyReport>
      api={api}
      name="daily"
      title="Daily report"
      intro="A UTC day's statistics, with no personal data: counts by force, hour and category only."
      path="reports/daily"
      query={(date) => ({ date })}
      hint="A UTC day; empty for today so far."
      submit="Show report"
    >
      {(r) => (
        <div class="daily" data-day={r.day}>
          <Status>
            {r.day}: {r.complete ? "the whole day" : "the day so far"}, counted {formatTime(r.generated_at)}. Counts from 1 to{" "}
            {r.suppressed_below - 1} are withheld and shown as &lt;{r.suppressed_below}, or as the range a total with withheld
            counts allows (its bar dashed).
          </Status>
          <div class="visuals">
            <Bars
              name="reads-by-hour"
              title="Reads by hour (UTC)"
              rows={totals(r.reads_by_lea_hour, (c) => c.hour, HOURS)}
              below={r.suppressed_below}
              label={(hour) => `${hour}:00`}
            />
            {r.alerts.length ? (
              <Bars name="alerts-by-category" title="Alerts by category" rows={totals(r.alerts, (c) => c.category)} below={r.suppressed_below} />
            ) : (
              <p>No alerts were raised this day.</p>
            )}
          </div>
        </div>
      )}
    </DaySection>
  );
}

function Usage({ api }: { api: Api }) {
  return (
    <DaySection<{ users: UserUsage[] }>
      api={api}
      name="usage"
      title="Usage"
      path="reports/usage"
      query={(date) => ({ from: date || new Date().toISOString().slice(0, 10) })}
      hint="A UTC day; empty for today."
      submit="Show usage"
    >
      {(u) =>
        u.users.length === 0 ? (
          <p>No searches, read views or refusals this day.</p>
        ) : (
          <table class="data usage">
            <caption>Searches, read views and refusals by user</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Force</th>
                <th scope="col">Searches</th>
                <th scope="col">Read views</th>
                <th scope="col">Rows viewed</th>
                <th scope="col">Refusals</th>
              </tr>
            </thead>
            <tbody>
              {u.users.map((x) => (
                <tr key={x.user}>
                  <th scope="row">{x.user}</th>
                  <td>{x.lea}</td>
                  <td>{x.searches}</td>
                  <td>{x.read_views}</td>
                  <td>{x.rows_viewed}</td>
                  <td>{Object.entries(x.refusals).map(([rule, n]) => `${rule}: ${n}`).join(", ") || "none"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </DaySection>
  );
}

function Retention({ api }: { api: Api }) {
  return (
    <DaySection<RetentionStatement>
      api={api}
      name="retention"
      title="Retention statement"
      intro="The daily retention check signs a statement of what the stores hold: nothing may be older than the retention period, and what passed it was deleted."
      path="reports/retention"
      query={(date) => ({ date })}
      hint="A UTC day; empty for the latest of the last 31 days."
      submit="Show statement"
    >
      {(statement) => <Statement statement={statement} />}
    </DaySection>
  );
}

function Statement({ statement: s }: { statement: RetentionStatement }) {
  const facts: [string, string][] = [
    ["Statement", s.statement_key],
    ["As of", formatTime(s.as_of)],
    ["Written", `${formatTime(s.written_at)} by ${s.written_by}`],
    ["Keep for", `${s.keep_for_days} days`],
    ["Oldest held", s.oldest_age_days === null ? "nothing held" : `${s.oldest_age_days} days`],
    ["Signing key", s.signing_key_id],
  ];
  return (
    <div class="statement" data-statement-key={s.statement_key}>
      <Status>
        <span class={`verdict ${s.signature_valid ? "ok" : "broken"}`}>
          {s.signature_valid ? "Signature valid" : "Signature NOT valid"}
        </span>
        {"; "}
        <span class={`verdict ${s.within_retention ? "ok" : "broken"}`}>
          {s.within_retention ? "Within retention" : "Retention exceeded"}
        </span>
        : nothing older than {s.keep_for_days} days{s.within_retention ? " is held" : " should be held"}, as of{" "}
        {formatTime(s.as_of)}.
      </Status>
      <dl class="facts">
        {facts.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <table class="data prefixes">
        <caption>By prefix: the oldest object held and what was deleted</caption>
        <thead>
          <tr>
            <th scope="col">Prefix</th>
            <th scope="col">Bucket</th>
            <th scope="col">Holds</th>
            <th scope="col">Versions listed</th>
            <th scope="col">Oldest held</th>
            <th scope="col">Deleted</th>
            <th scope="col">Delete failures</th>
          </tr>
        </thead>
        <tbody>
          {s.prefixes.map((p) => (
            <tr key={`${p.bucket}/${p.prefix}`} data-prefix={p.prefix}>
              <th scope="row">{p.prefix}</th>
              <td>{p.bucket}</td>
              <td>{p.holds}</td>
              <td>{COUNT.format(p.versions_listed)}</td>
              <td>{p.oldest ? `${p.oldest.age_days} days (stored ${formatTime(p.oldest.stored_at)})` : "nothing"}</td>
              <td>
                {COUNT.format(p.deleted.versions)} version{p.deleted.versions === 1 ? "" : "s"}, {bytes(p.deleted.bytes)}
              </td>
              <td>{p.deleted.failures}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Reports({ api, session }: ScreenProps) {
  const may = (...roles: Role[]) => roles.some((role) => session.groups.includes(role));
  return (
    <div class="reports">
      {may(Role.ANALYST, Role.AUDITOR) ? <Daily api={api} /> : null}
      {may(Role.AUDITOR) ? <Usage api={api} /> : null}
      {may(Role.AUDITOR, Role.DPO) ? <Retention api={api} /> : null}
    </div>
  );
}

export const reportsScreen: Screen = {
  id: "reports",
  title: "Reports",
  groups: [Role.ANALYST, Role.AUDITOR, Role.DPO],
  view: Reports,
};
