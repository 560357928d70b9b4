/** Reports (auditor, dpo; R-RET-367, R-RET-365): the signed retention statement the daily retention
 * check writes: whether anything older than the retention period is still held, the oldest object
 * held and what was deleted, by prefix, and whether the statement's signature checks out against the
 * retention key. The API checks the signature; the console shows its verdict. */

import { useEffect, useRef, useState } from "preact/hooks";

import { ErrorMessage, Field, formatTime, Status } from "../components/ui";
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

function Reports({ api }: ScreenProps) {
  const [day, setDay] = useState("");
  const [statement, setStatement] = useState<RetentionStatement | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  async function load(date: string, focus: boolean) {
    setBusy(true);
    try {
      setStatement(await api.get<RetentionStatement>("reports/retention", { date }));
      setError(null);
    } catch (exc) {
      setStatement(null);
      setError(exc);
    } finally {
      setBusy(false);
      if (focus) heading.current?.focus();
    }
  }

  useEffect(() => {
    void load("", false);
  }, [api]);

  return (
    <section aria-labelledby="retention-heading" class="reports" aria-busy={busy ? "true" : "false"}>
      <h2 id="retention-heading" tabIndex={-1} ref={heading}>
        Retention statement
      </h2>
      <p>
        The daily retention check signs a statement of what the stores hold: nothing may be older than the retention
        period, and what passed it was deleted.
      </p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load(day, true);
        }}
      >
        <Field label="Date" hint="A UTC day; empty for the latest of the last 31 days.">
          {(id, hint) => (
            <input id={id} type="date" aria-describedby={hint} value={day} onInput={(e) => setDay(e.currentTarget.value)} />
          )}
        </Field>
        <div class="actions">
          <button type="submit" disabled={busy}>
            Show statement
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {statement ? <Statement statement={statement} /> : null}
    </section>
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

export const reportsScreen: Screen = {
  id: "reports",
  title: "Reports",
  groups: [Role.AUDITOR, Role.DPO],
  view: Reports,
};
