/** Alerts (operator; R-ALERT, R-CIRC, R-HIT): the alerts visible to the operator's LEA, newest first,
 * refreshed every few seconds without a reload; a new alert is highlighted and announced; an alert
 * opens to its read and VOI facts and its outcome is recorded with Record outcome. */

import { useEffect, useRef, useState } from "preact/hooks";

import type { Api } from "../api";
import { ErrorMessage, FormActions, formatTime, SelectField, Status, TextAreaField, useAction } from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";

/** How often the list is refreshed. */
export const REFRESH_MS = 4_000;
const PAGE_SIZE = 50;
export const OUTCOMES = ["confirmed", "misread", "cloned-plate", "no-trace", "no-action"] as const;

interface Alert {
  alert_id: string;
  read_id: string;
  vrm: string;
  captured_at: string;
  camera_id: string;
  lea: string;
  voi_id: string;
  source: string;
  category: string;
  action: string;
  priority: number;
  raised_at: string;
  outcome: string | null;
  /** Raised by a retro-hunt of stored reads when the entry was listed, not by the live match. */
  retro: boolean;
}

interface AlertsPage {
  alerts: Alert[];
  next_page_token: string | null;
}

interface OutcomeView extends Alert {
  note: string;
  recorded_by: string | null;
  recorded_at: string | null;
}

function Alerts({ api }: ScreenProps) {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [older, setOlder] = useState<Alert[]>([]);
  const [nextToken, setNextToken] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [announcement, setAnnouncement] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const [openId, setOpenId] = useState<string | null>(null);
  const seen = useRef<Set<string> | null>(null);

  useEffect(() => {
    let stopped = false;
    async function refresh() {
      try {
        const page = await api.get<AlertsPage>("alerts", { limit: PAGE_SIZE });
        if (stopped) return;
        const ids = page.alerts.map((a) => a.alert_id);
        if (seen.current) {
          const known = seen.current;
          const added = ids.filter((id) => !known.has(id));
          if (added.length) {
            setFresh((current) => new Set([...current, ...added]));
            setAnnouncement(`${added.length} new alert${added.length === 1 ? "" : "s"}`);
          }
          added.forEach((id) => known.add(id));
        } else {
          seen.current = new Set(ids); // what is there on opening is not "new"
          setNextToken(page.next_page_token);
        }
        setAlerts(page.alerts);
        setError(null);
        setLoaded(true);
      } catch (exc) {
        if (!stopped) setError(exc);
      }
    }
    void refresh();
    const timer = window.setInterval(() => void refresh(), REFRESH_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [api]);

  async function loadOlder() {
    if (!nextToken) return;
    try {
      const page = await api.get<AlertsPage>("alerts", { limit: PAGE_SIZE, page_token: nextToken });
      setOlder((current) => [...current, ...page.alerts]);
      setNextToken(page.next_page_token);
    } catch (exc) {
      setError(exc);
    }
  }

  const shownIds = new Set(alerts.map((a) => a.alert_id));
  const rows = [...alerts, ...older.filter((a) => !shownIds.has(a.alert_id))];
  const open = rows.find((a) => a.alert_id === openId) ?? null;

  function opened(alert: Alert) {
    setFresh((current) => {
      const next = new Set(current);
      next.delete(alert.alert_id);
      return next;
    });
    setOpenId(alert.alert_id);
  }

  function recorded(view: OutcomeView) {
    const update = (list: Alert[]) =>
      list.map((a) => (a.alert_id === view.alert_id ? { ...a, outcome: view.outcome } : a));
    setAlerts(update);
    setOlder(update);
  }

  return (
    <div class="alerts" aria-busy={!loaded && !error}>
      <p class="hint">Newest first; the list refreshes every {REFRESH_MS / 1000} seconds.</p>
      <div class="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement}
      </div>
      <ErrorMessage error={error} />
      {open ? (
        <AlertDetail
          key={open.alert_id}
          api={api}
          alert={open}
          onClose={() => setOpenId(null)}
          onRecorded={recorded}
        />
      ) : null}
      {loaded && rows.length === 0 ? <p>No alerts in the last 24 hours.</p> : null}
      {rows.length > 0 ? (
        <table class="data">
          <caption>Alerts for your force</caption>
          <thead>
            <tr>
              <th scope="col">VRM</th>
              <th scope="col">Raised</th>
              <th scope="col">Category</th>
              <th scope="col">Action</th>
              <th scope="col">Priority</th>
              <th scope="col">Camera</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((alert) => {
              const isNew = fresh.has(alert.alert_id);
              return (
                <tr key={alert.alert_id} class={isNew ? "new" : undefined} data-alert-id={alert.alert_id}>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => opened(alert)}>
                      {alert.vrm}
                    </button>
                    {isNew ? <span class="badge">New</span> : null}
                    {alert.retro ? <span class="badge">Retro-hunt</span> : null}
                  </th>
                  <td>{formatTime(alert.raised_at)}</td>
                  <td>{alert.category}</td>
                  <td>{alert.action}</td>
                  <td>{alert.priority}</td>
                  <td>{alert.camera_id}</td>
                  <td>{alert.outcome ?? "none yet"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      {nextToken ? (
        <button type="button" class="secondary" onClick={() => void loadOlder()}>
          Load older alerts
        </button>
      ) : null}
    </div>
  );
}

function AlertDetail(props: {
  api: Api;
  alert: Alert;
  onClose: () => void;
  onRecorded: (view: OutcomeView) => void;
}) {
  const { alert } = props;
  const [outcome, setOutcome] = useState<string>(alert.outcome ?? "");
  const [note, setNote] = useState("");
  const [saved, setSaved] = useState<OutcomeView | null>(null);
  const recording = useAction();
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => heading.current?.focus(), []);

  function submit(event: Event) {
    event.preventDefault();
    return recording.run(async () => {
      const view = await props.api.post<OutcomeView>(`alerts/${encodeURIComponent(alert.alert_id)}/outcome`, {
        outcome,
        note,
      });
      setSaved(view);
      props.onRecorded(view);
    });
  }

  const facts: [string, string | number][] = [
    ["VRM", alert.vrm],
    ["Captured", formatTime(alert.captured_at)],
    ["Camera", alert.camera_id],
    ["Force", alert.lea],
    ["Read", alert.read_id],
    ["VOI entry", alert.voi_id],
    ["VOI source", alert.source],
    ["Category", alert.category],
    ["Action", alert.action],
    ["Priority", alert.priority],
    ["Raised", formatTime(alert.raised_at)],
    ["Found by", alert.retro ? "a retro-hunt of stored reads" : "the live match"],
    ["Outcome", alert.outcome ?? "none yet"],
  ];

  return (
    <section class="panel" aria-labelledby="alert-detail-heading">
      <h2 id="alert-detail-heading" tabIndex={-1} ref={heading}>
        Alert {alert.vrm}
      </h2>
      <dl class="facts">
        {facts.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <form onSubmit={submit}>
        <SelectField label="Outcome" required options={OUTCOMES} value={outcome} onValue={setOutcome}>
          <option value="" disabled>
            Choose an outcome
          </option>
        </SelectField>
        <TextAreaField
          label="Note"
          hint="What was done; at most 1,000 characters."
          maxLength={1000}
          rows={3}
          value={note}
          onValue={setNote}
        />
        <FormActions submit="Record outcome" disabled={recording.busy}>
          <button type="button" class="secondary" onClick={props.onClose}>
            Close alert
          </button>
        </FormActions>
      </form>
      {saved ? (
        <Status>
          Outcome {saved.outcome} recorded by {saved.recorded_by} at {formatTime(saved.recorded_at)}.
        </Status>
      ) : null}
      <ErrorMessage error={recording.error} />
    </section>
  );
}

export const alertsScreen: Screen = {
  id: "alerts",
  title: "Alerts",
  groups: [Role.OPERATOR],
  view: Alerts,
};
