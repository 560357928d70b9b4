/** Subject requests (dpo; R-SAR): data subjects' requests about a VRM (access, rectification, erasure,
 * restriction), soonest due first and paged as the API pages; record one, open one, decide it once
 * (refusing or granting in part cites the exemption relied on; a rectification names the reads to
 * correct, an erasure granted in part the reads it withholds, by their export entry ids), show an
 * access, rectification or erasure request's export, and lift a restriction in force. What may be decided and how is the API's to say: a refusal shows its rule. */

import { useEffect, useRef, useState } from "preact/hooks";

import type { Api } from "../api";
import {
  Check,
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

const PAGE_SIZE = 50;
const KINDS = ["access", "rectification", "erasure", "restriction"];
const DECISIONS = ["granted", "refused", "partly"];
const STATUSES = ["open", "decided"];

interface SubjectRequest {
  request_id: string;
  kind: string;
  vrm: string;
  received_at: string;
  due_date: string;
  overdue: boolean;
  requester_ref: string;
  notes: string;
  status: "open" | "decided";
  decision: string | null;
  decided_at: string | null;
  decided_by: string | null;
  decision_reason: string | null;
  exemption: string | null;
  outcome: Record<string, unknown>;
  restriction_in_force: boolean;
  restriction_lifted_at: string | null;
  restriction_lifted_by: string | null;
}

interface RequestList {
  requests: SubjectRequest[];
  next_page_token: string | null;
}

interface AccessExport {
  complete: boolean;
  reads: { entry_id: string; captured_at: string; vrm: string; lea: string; grid_square: string; corrected: boolean }[];
  alerts: { raised_at: string; captured_at: string; lea: string; grid_square: string; category: string; outcome: string | null }[];
}

function stateOf(r: SubjectRequest): string {
  if (r.status === "open") return r.overdue ? "Open, overdue" : "Open";
  return `Decided: ${r.decision}${r.restriction_in_force ? ", restriction in force" : ""}`;
}

function SubjectRequests({ api }: ScreenProps) {
  const [status, setStatus] = useState("open");
  const [overdue, setOverdue] = useState(false);
  const [list, setList] = useState<SubjectRequest[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [listError, setListError] = useState<unknown>(null);
  const [opened, setOpened] = useState<SubjectRequest | null>(null);

  async function load(token: string | null) {
    try {
      const page = await api.get<RequestList>("subject-requests", { status, overdue: overdue ? "true" : null, limit: PAGE_SIZE, page_token: token });
      setList((current) => (token ? [...current, ...page.requests] : page.requests));
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
  }, [api, status, overdue]);

  async function open(id: string) {
    try {
      setOpened(await api.get<SubjectRequest>(`subject-requests/${encodeURIComponent(id)}`));
      setListError(null);
    } catch (exc) {
      setListError(exc);
    }
  }

  function changed(r: SubjectRequest) {
    setOpened(r);
    setList((current) => current.map((x) => (x.request_id === r.request_id ? r : x)));
  }

  return (
    <div class="subject-requests">
      {opened ? <Opened key={opened.request_id} api={api} request={opened} onChanged={changed} /> : null}
      <section aria-labelledby="requests-heading">
        <h2 id="requests-heading">Requests</h2>
        <div class="filters">
          <SelectField label="Status" options={STATUSES} value={status} onValue={setStatus} />
          <Check label="Overdue only" hint="Open requests past their due date." checked={overdue} onChange={setOverdue} />
        </div>
        <ErrorMessage error={listError} />
        {loaded && list.length === 0 ? <p>No {status} requests.</p> : null}
        {list.length ? (
          <table class="data requests">
            <caption>Soonest due first</caption>
            <thead>
              <tr>
                <th scope="col">VRM</th>
                <th scope="col">Kind</th>
                <th scope="col">Requester reference</th>
                <th scope="col">Received</th>
                <th scope="col">Due</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr
                  key={r.request_id}
                  data-request-id={r.request_id}
                  class={opened?.request_id === r.request_id ? "selected" : undefined}
                  aria-current={opened?.request_id === r.request_id ? "true" : undefined}
                >
                  <th scope="row">{r.vrm}</th>
                  <td>{r.kind}</td>
                  <td>{r.requester_ref}</td>
                  <td>{formatTime(r.received_at)}</td>
                  <td>{r.due_date}</td>
                  <td>{stateOf(r)}</td>
                  <td>
                    <button type="button" class="secondary" aria-label={`Open the ${r.kind} request ${r.requester_ref}`} onClick={() => void open(r.request_id)}>
                      Open
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {next ? (
          <button type="button" class="secondary" onClick={() => void load(next)}>
            More requests
          </button>
        ) : null}
      </section>
      <NewRequest
        api={api}
        onRecorded={(r) => {
          if (status === "open" && !overdue) setList((current) => [r, ...current]);
          setOpened(r);
        }}
      />
    </div>
  );
}

function NewRequest(props: { api: Api; onRecorded: (r: SubjectRequest) => void }) {
  const blank = () => ({ kind: KINDS[0], vrm: "", received: toLocalInput(new Date()), requester_ref: "", notes: "" });
  const [draft, setDraft] = useState(blank);
  const recording = useAction();
  const set = (key: keyof ReturnType<typeof blank>) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));

  function record(event: Event) {
    event.preventDefault();
    return recording.run(async () => {
      const { received, ...rest } = draft;
      props.onRecorded(await props.api.post<SubjectRequest>("subject-requests", { ...rest, vrm: rest.vrm.trim(), received_at: toInstant(received) }));
      setDraft(blank());
    });
  }

  return (
    <section aria-labelledby="record-heading">
      <h2 id="record-heading">Record a request</h2>
      <form class="search-form" onSubmit={record}>
        <SelectField label="Kind" options={KINDS} value={draft.kind} onValue={set("kind")} />
        <InputField label="VRM" autoComplete="off" value={draft.vrm} onValue={set("vrm")} />
        <InputField
          label="Received"
          hint="Your local time: the request is due a calendar month later."
          type="datetime-local"
          value={draft.received}
          onValue={set("received")}
        />
        <InputField
          label="Requester reference"
          hint="Your reference for the requester, never a name."
          autoComplete="off"
          value={draft.requester_ref}
          onValue={set("requester_ref")}
        />
        <TextAreaField label="Notes" value={draft.notes} onValue={set("notes")} />
        <FormActions submit="Record request" disabled={recording.busy} />
      </form>
      <ErrorMessage error={recording.error} />
    </section>
  );
}

function Opened(props: { api: Api; request: SubjectRequest; onChanged: (r: SubjectRequest) => void }) {
  const { api, request: r } = props;
  const path = `subject-requests/${encodeURIComponent(r.request_id)}`;
  const [decision, setDecision] = useState(DECISIONS[0]);
  const [reason, setReason] = useState("");
  const [exemption, setExemption] = useState("");
  const [corrections, setCorrections] = useState("");
  const [withheld, setWithheld] = useState("");
  const [exported, setExported] = useState<AccessExport | null>(null);
  const [exporting, setExporting] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => heading.current?.focus(), []);

  function act(run: () => Promise<void>) {
    setDone(null);
    return action.run(run);
  }

  const change = (action: string, body: unknown, message: string) => (event: Event) => {
    event.preventDefault();
    void act(async () => {
      props.onChanged(await api.post<SubjectRequest>(`${path}/${action}`, body));
      setReason("");
      setDone(message);
      heading.current?.focus(); // the form just used is gone once the request changes
    });
  };

  const facts: [string, string | null][] = [
    ["Kind", r.kind],
    ["VRM", r.vrm],
    ["Requester reference", r.requester_ref],
    ["Received", formatTime(r.received_at)],
    ["Due", `${r.due_date}${r.overdue ? " (overdue)" : ""}`],
    ["State", stateOf(r)],
    ["Notes", r.notes],
    ["Decided", r.decided_at && `${formatTime(r.decided_at)} by ${r.decided_by}`],
    ["Reason", r.decision_reason],
    ["Exemption", r.exemption],
    ["Restriction lifted", r.restriction_lifted_at && `${formatTime(r.restriction_lifted_at)} by ${r.restriction_lifted_by}`],
    ...Object.entries(r.outcome).map(([k, v]): [string, string] => [k.replace(/_/g, " "), typeof v === "string" ? v : JSON.stringify(v)]),
  ];

  return (
    <section aria-labelledby="opened-heading" class="panel" data-request-id={r.request_id}>
      <h2 id="opened-heading" tabIndex={-1} ref={heading}>
        {r.kind[0]?.toUpperCase()}
        {r.kind.slice(1)} request {r.requester_ref}
      </h2>
      <dl class="facts">
        {facts
          .filter(([, v]) => v)
          .map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </div>
          ))}
      </dl>
      {done ? <Status>{done}</Status> : null}
      <ErrorMessage error={action.error} />
      {r.status === "open" ? (
        <form
          aria-labelledby="decide-heading"
          onSubmit={change(
            "decision",
            {
              decision,
              reason,
              exemption: exemption.trim() || null,
              corrections:
                r.kind === "rectification"
                  ? corrections
                      .split("\n")
                      .map((line) => line.trim().split(/\s+/))
                      .filter(([entry]) => entry)
                      .map(([entry_id, vrm]) => ({ entry_id, vrm }))
                  : undefined,
              withheld:
                r.kind === "erasure" && decision === "partly"
                  ? withheld.split(/\s+/).filter((entry) => entry)
                  : undefined,
            },
            "Decision recorded.",
          )}
        >
          <h3 id="decide-heading">Decide</h3>
          <SelectField label="Decision" options={DECISIONS} value={decision} onValue={setDecision} />
          <TextAreaField label="Reason" hint="10 to 1,000 characters." value={reason} onValue={setReason} />
          <InputField
            label="Exemption"
            hint="The exemption relied on: needed to refuse or to grant in part."
            autoComplete="off"
            value={exemption}
            onValue={setExemption}
          />
          {r.kind === "rectification" ? (
            <TextAreaField
              label="Corrections"
              hint="One read a line: its entry id from the export, a space, then the VRM it really shows."
              value={corrections}
              onValue={setCorrections}
            />
          ) : null}
          {r.kind === "erasure" && decision === "partly" ? (
            <TextAreaField
              label="Withheld reads"
              hint="The reads kept under the exemption: their entry ids from the export, one a line."
              value={withheld}
              onValue={setWithheld}
            />
          ) : null}
          <FormActions submit="Record decision" disabled={action.busy} />
        </form>
      ) : null}
      {r.restriction_in_force ? (
        <form aria-labelledby="lift-heading" onSubmit={change("lift-restriction", { reason }, "Restriction lifted: searches return this VRM's reads again.")}>
          <h3 id="lift-heading">Lift the restriction</h3>
          <TextAreaField label="Reason" hint="10 to 1,000 characters." value={reason} onValue={setReason} />
          <FormActions submit="Lift restriction" disabled={action.busy} />
        </form>
      ) : null}
      {r.kind !== "restriction" && r.decision !== "refused" ? (
        <div class="actions">
          <button
            type="button"
            class="secondary"
            disabled={action.busy}
            onClick={() =>
              void act(async () => {
                setExported(null);
                setExporting(true);
                try {
                  setExported(await api.get<AccessExport>(`${path}/export`, { format: "json" }));
                } finally {
                  setExporting(false);
                }
              })
            }
          >
            Show export
          </button>
        </div>
      ) : null}
      {exporting ? <Status>Searching the VRM's reads of the last 365 days for the export…</Status> : null}
      {exported ? <Export found={exported} /> : null}
    </section>
  );
}

function Export({ found }: { found: AccessExport }) {
  return (
    <div class="export">
      <table class="data export-reads">
        <caption>
          Export: {found.reads.length} read{found.reads.length === 1 ? "" : "s"}
          {found.complete ? "" : " (incomplete: more reads are held than an export lists)"}
        </caption>
        <thead>
          <tr>
            <th scope="col">Captured</th>
            <th scope="col">VRM</th>
            <th scope="col">Force</th>
            <th scope="col">Grid square</th>
            <th scope="col">Corrected</th>
            <th scope="col">Entry id</th>
          </tr>
        </thead>
        <tbody>
          {found.reads.map((x) => (
            <tr key={x.entry_id} data-entry-id={x.entry_id}>
              <td>{formatTime(x.captured_at)}</td>
              <td>{x.vrm}</td>
              <td>{x.lea}</td>
              <td>{x.grid_square}</td>
              <td>{x.corrected ? "yes" : "no"}</td>
              <td>{x.entry_id}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {found.alerts.length ? (
        <table class="data export-alerts">
          <caption>Alerts raised on the VRM</caption>
          <thead>
            <tr>
              <th scope="col">Raised</th>
              <th scope="col">Captured</th>
              <th scope="col">Force</th>
              <th scope="col">Grid square</th>
              <th scope="col">Category</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {found.alerts.map((a) => (
              <tr key={a.raised_at + a.captured_at}>
                <td>{formatTime(a.raised_at)}</td>
                <td>{formatTime(a.captured_at)}</td>
                <td>{a.lea}</td>
                <td>{a.grid_square}</td>
                <td>{a.category}</td>
                <td>{a.outcome ?? "none"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

export const subjectRequestsScreen: Screen = {
  id: "subject-requests",
  title: "Subject requests",
  groups: [Role.DPO],
  view: SubjectRequests,
};
