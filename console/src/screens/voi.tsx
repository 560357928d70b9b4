/** VOI (voi-manager; operator read-only; R-VOI, R-VOI-28, R-VOI-56, R-VOI-DEL, R-WHITE, R-CIRC): look
 * up a VRM's live entries, and for managers add an entry, revise one (both clocks restart), delete
 * one (after a confirm step), see the entries due for review, and import a bulk list (`voi-import.tsx`).
 * Operators see the same entries without a control that changes them. Which entries a user sees,
 * and who may change what, is the API's to decide: a refusal shows its rule. */

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
  useAction,
} from "../components/ui";
import { Role } from "../roles";
import type { Screen, ScreenProps } from "../screen";
import { ImportList } from "./voi-import";

const ACTIONS = ["stop", "observe", "report"] as const;
const PRIORITIES = [
  ["1", "1 (high)"],
  ["2", "2"],
  ["3", "3 (low)"],
] as const;
const ENTRY_SOURCES = ["local", "pnc"] as const;
const NATIONAL = "NATIONAL";
const REVIEW_PAGE = 50;

export interface VoiEntry {
  voi_id: string;
  vrm: string;
  source: string;
  category: string;
  action: string;
  priority: number;
  reason: string;
  pnc_ref: string | null;
  circulation: string[];
  owner_lea: string;
  sensitive: boolean;
  created_by: string;
  created_at: string;
  last_revised_at: string;
  review_due_at: string;
  expires_at: string;
  from_list: boolean;
}

interface VoiEntries {
  entries: VoiEntry[];
  white_listed: boolean | null;
}

interface DueEntry {
  voi_id: string;
  vrm: string;
  source: string;
  category: string;
  priority: number;
  review_due_at: string;
  expires_at: string;
  overdue: boolean;
}

interface DueList {
  source: string;
  import_id: string;
  rows: number;
  review_due_at: string;
  expires_at: string;
}

interface ReviewsPage {
  reviews: DueEntry[];
  lists: DueList[];
  next_page_token: string | null;
}

/** The fields a manager sets, as the form holds them (strings until sent). */
interface Draft {
  vrm: string;
  source: string;
  category: string;
  action: string;
  priority: string;
  reason: string;
  pnc_ref: string;
  circulation: string;
  owner_lea: string;
  sensitive: boolean;
}

function blank(): Draft {
  return {
    vrm: "",
    source: ENTRY_SOURCES[0],
    category: "",
    action: "observe",
    priority: "2",
    reason: "",
    pnc_ref: "",
    circulation: "",
    owner_lea: "",
    sensitive: false,
  };
}

function draftOf(entry: VoiEntry): Draft {
  return {
    ...blank(),
    vrm: entry.vrm,
    source: entry.source,
    category: entry.category,
    action: entry.action,
    priority: String(entry.priority),
    reason: entry.reason,
    pnc_ref: entry.pnc_ref ?? "",
    circulation: entry.circulation.join(";"),
    sensitive: entry.sensitive,
  };
}

/** The body PUT /voi/{id} takes (ChangesBody): a revision replaces every field. */
function changesOf(draft: Draft): Record<string, unknown> {
  return {
    category: draft.category.trim(),
    action: draft.action,
    priority: Number(draft.priority),
    reason: draft.reason.trim(),
    pnc_ref: draft.pnc_ref.trim() || null,
    circulation: draft.circulation
      .split(/[;,\s]+/)
      .map((c) => c.trim().toUpperCase())
      .filter(Boolean),
    sensitive: draft.sensitive,
  };
}

function Voi({ api, session }: ScreenProps) {
  const manager = session.groups.includes(Role.VOI_MANAGER);
  const [vrm, setVrm] = useState("");
  const [shown, setShown] = useState<{ vrm: string; found: VoiEntries } | null>(null);
  const [lookupError, setLookupError] = useState<unknown>(null);
  const [looking, setLooking] = useState(false);
  const [draft, setDraft] = useState<Draft>(blank);
  const adding = useAction();
  const [message, setMessage] = useState<string | null>(null);
  const [revising, setRevising] = useState<VoiEntry | null>(null);
  const [confirming, setConfirming] = useState<VoiEntry | null>(null);
  const [entryError, setEntryError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [reviewsVersion, setReviewsVersion] = useState(0);
  // Bumped to move focus to the entries' heading once it is rendered (it may not exist yet).
  const [focusEntries, setFocusEntries] = useState(0);
  const entriesHeading = useRef<HTMLHeadingElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const reviseHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);
  useEffect(() => {
    if (revising) reviseHeading.current?.focus();
  }, [revising]);
  useEffect(() => {
    if (focusEntries) entriesHeading.current?.focus();
  }, [focusEntries]);

  async function lookUp(target: string, focus = true) {
    setLooking(true);
    setLookupError(null);
    try {
      const found = await api.get<VoiEntries>("voi", { vrm: target });
      setShown({ vrm: target, found });
      if (focus) setFocusEntries((n) => n + 1);
    } catch (exc) {
      setShown(null);
      setLookupError(exc);
    } finally {
      setLooking(false);
    }
  }

  function submitLookUp(event: Event) {
    event.preventDefault();
    setMessage(null);
    setRevising(null);
    setConfirming(null);
    void lookUp(vrm.trim());
  }

  function add(event: Event) {
    event.preventDefault();
    setMessage(null);
    return adding.run(async () => {
      const made = await api.post<VoiEntry>("voi", {
        vrm: draft.vrm.trim(),
        source: draft.source,
        owner_lea: draft.owner_lea.trim().toUpperCase() || null,
        ...changesOf(draft),
      });
      setDraft(blank());
      setVrm(made.vrm);
      await lookUp(made.vrm);
      setMessage(
        `Entry for ${made.vrm} added (${made.category}, ${made.action}); review due ${formatTime(made.review_due_at)}.`,
      );
      setReviewsVersion((v) => v + 1);
    });
  }

  async function revise(entry: VoiEntry, changes: Draft) {
    setBusy(true);
    setEntryError(null);
    try {
      const done = await api.put<VoiEntry>(`voi/${encodeURIComponent(entry.voi_id)}`, changesOf(changes));
      setRevising(null);
      await lookUp(done.vrm);
      setMessage(`Entry for ${done.vrm} revised; review due ${formatTime(done.review_due_at)}.`);
      setReviewsVersion((v) => v + 1);
    } catch (exc) {
      setEntryError(exc);
    } finally {
      setBusy(false);
    }
  }

  async function remove(entry: VoiEntry) {
    setBusy(true);
    setEntryError(null);
    try {
      await api.delete(`voi/${encodeURIComponent(entry.voi_id)}`);
      setConfirming(null);
      await lookUp(entry.vrm);
      setMessage(`Entry for ${entry.vrm} (${entry.category}) deleted: it no longer matches.`);
      setReviewsVersion((v) => v + 1);
    } catch (exc) {
      setEntryError(exc);
      setConfirming(null);
      setFocusEntries((n) => n + 1);
    } finally {
      setBusy(false);
    }
  }

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const changeable = (entry: VoiEntry) => manager && !entry.from_list;

  return (
    <div class="voi">
      <section aria-labelledby="lookup-heading">
        <h2 id="lookup-heading">Look up a vehicle</h2>
        <form class="filters" onSubmit={submitLookUp}>
          <InputField
            label="VRM"
            hint="As written: spaces and case do not matter."
            required
            maxLength={16}
            autoComplete="off"
            value={vrm}
            onValue={setVrm}
          />
          <FormActions submit="Look up" disabled={looking} />
        </form>
        <ErrorMessage error={lookupError} />
      </section>

      {message ? <Status>{message}</Status> : null}

      {shown ? (
        <section aria-labelledby="entries-heading">
          <h2 id="entries-heading" tabIndex={-1} ref={entriesHeading}>
            Entries for {shown.vrm}
          </h2>
          {shown.found.white_listed ? (
            <p class="notice">On the DVLA white list: bulk (DVLA, MIB) list entries for it raise no alert.</p>
          ) : null}
          {confirming ? (
            <div class="panel confirm" role="group" aria-labelledby="delete-text">
              <p id="delete-text">
                Delete the <strong>{confirming.category}</strong> entry for <strong>{confirming.vrm}</strong> now? It
                stops matching at once and cannot be restored.
              </p>
              <div class="actions">
                <button
                  type="button"
                  class="danger"
                  ref={confirmButton}
                  disabled={busy}
                  onClick={() => void remove(confirming)}
                >
                  Confirm delete
                </button>
                <button
                  type="button"
                  class="secondary"
                  onClick={() => {
                    setConfirming(null);
                    entriesHeading.current?.focus();
                  }}
                >
                  Cancel
                </button>
              </div>
            </div>
          ) : null}
          <ErrorMessage error={entryError} />
          {shown.found.entries.length === 0 ? <p>No live entry for {shown.vrm} that you may see.</p> : null}
          {shown.found.entries.length ? (
            <table class="data voi-entries">
              <caption>{manager ? "Entries from lists change only by importing the list again" : "Read only"}</caption>
              <thead>
                <tr>
                  <th scope="col">Category</th>
                  <th scope="col">Source</th>
                  <th scope="col">Action</th>
                  <th scope="col">Priority</th>
                  <th scope="col">Reason</th>
                  <th scope="col">PNC reference</th>
                  <th scope="col">Circulation</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Review due</th>
                  <th scope="col">Expires</th>
                  {manager ? (
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {shown.found.entries.map((entry) => (
                  <tr key={entry.voi_id} data-voi-id={entry.voi_id}>
                    <th scope="row">
                      {entry.category}
                      {entry.sensitive ? <span class="badge">Sensitive</span> : null}
                    </th>
                    <td>{entry.from_list ? `${entry.source} list` : entry.source}</td>
                    <td>{entry.action}</td>
                    <td>{entry.priority}</td>
                    <td>{entry.reason}</td>
                    <td>{entry.pnc_ref ?? ""}</td>
                    <td>{entry.circulation.join(", ")}</td>
                    <td>{entry.owner_lea}</td>
                    <td>{formatTime(entry.review_due_at)}</td>
                    <td>{formatTime(entry.expires_at)}</td>
                    {manager ? (
                      <td>
                        {changeable(entry) ? (
                          <div class="actions">
                            <button
                              type="button"
                              class="secondary"
                              aria-label={`Revise the ${entry.category} entry for ${entry.vrm}`}
                              disabled={busy || confirming !== null}
                              onClick={() => {
                                setMessage(null);
                                setEntryError(null);
                                setRevising(entry);
                              }}
                            >
                              Revise
                            </button>
                            <button
                              type="button"
                              class="secondary"
                              aria-label={`Delete the ${entry.category} entry for ${entry.vrm}`}
                              disabled={busy || confirming !== null}
                              onClick={() => {
                                setMessage(null);
                                setEntryError(null);
                                setRevising(null);
                                setConfirming(entry);
                              }}
                            >
                              Delete
                            </button>
                          </div>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {revising ? (
            <Revise
              key={revising.voi_id}
              entry={revising}
              busy={busy}
              headingRef={reviseHeading}
              onSave={(changes) => void revise(revising, changes)}
              onCancel={() => {
                setRevising(null);
                entriesHeading.current?.focus();
              }}
            />
          ) : null}
        </section>
      ) : null}

      {manager ? (
        <section aria-labelledby="add-heading">
          <h2 id="add-heading">Add an entry</h2>
          <p>A new entry is due for review in 28 days and is deleted after 56 unless it is revised.</p>
          <form class="search-form" onSubmit={add}>
            <InputField
              label="VRM"
              required
              maxLength={16}
              autoComplete="off"
              value={draft.vrm}
              onValue={(v) => set("vrm", v)}
            />
            <SelectField
              label="Entry source"
              hint="Local to your force, or from the PNC."
              options={ENTRY_SOURCES}
              value={draft.source}
              onValue={(v) => set("source", v)}
            />
            <EntryFields draft={draft} set={set} />
            {session.lea === NATIONAL ? (
              <InputField
                label="Owner force"
                hint="The force that owns the entry; empty for your own (NATIONAL)."
                maxLength={16}
                autoComplete="off"
                value={draft.owner_lea}
                onValue={(v) => set("owner_lea", v)}
              />
            ) : null}
            <FormActions submit="Add entry" disabled={adding.busy} />
          </form>
          <ErrorMessage error={adding.error} />
        </section>
      ) : null}

      {manager ? (
        <Reviews
          api={api}
          version={reviewsVersion}
          onOpen={(target) => {
            setVrm(target);
            setMessage(null);
            setRevising(null);
            setConfirming(null);
            void lookUp(target);
          }}
        />
      ) : null}
      {manager ? <ImportList api={api} /> : null}
    </div>
  );
}

/** The fields an entry's revision replaces, shared by the add and revise forms. */
function EntryFields(props: { draft: Draft; set: <K extends keyof Draft>(key: K, value: Draft[K]) => void }) {
  const { draft, set } = props;
  return (
    <>
      <InputField
        label="Category"
        hint="Lower-case letters and hyphens, e.g. stolen, wanted."
        required
        minLength={2}
        maxLength={40}
        pattern="[a-z][a-z\-]*"
        autoComplete="off"
        value={draft.category}
        onValue={(v) => set("category", v)}
      />
      <SelectField label="Action" options={ACTIONS} value={draft.action} onValue={(v) => set("action", v)} />
      <SelectField label="Priority" options={PRIORITIES} value={draft.priority} onValue={(v) => set("priority", v)} />
      <TextAreaField
        label="Reason"
        hint="3 to 500 characters; refer to persons only by PNC reference, never by name."
        required
        minLength={3}
        maxLength={500}
        value={draft.reason}
        onValue={(v) => set("reason", v)}
      />
      <InputField
        label="PNC reference"
        hint="Optional, e.g. 24/123456A."
        maxLength={11}
        pattern="\d{2}/\d{1,7}[A-Z]"
        autoComplete="off"
        value={draft.pnc_ref}
        onValue={(v) => set("pnc_ref", v)}
      />
      <InputField
        label="Circulation"
        hint="Force codes separated by ; (KENT;ESSEX), or NATIONAL alone."
        required
        maxLength={1700}
        autoComplete="off"
        value={draft.circulation}
        onValue={(v) => set("circulation", v)}
      />
      <Check
        label="Sensitive"
        hint="Seen only by its owner and the forces it is circulated to, not by national users."
        checked={draft.sensitive}
        onChange={(value) => set("sensitive", value)}
      />
    </>
  );
}

function Revise(props: {
  entry: VoiEntry;
  busy: boolean;
  headingRef: { current: HTMLHeadingElement | null };
  onSave: (changes: Draft) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.entry));
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  return (
    <div class="panel" role="group" aria-labelledby="revise-heading">
      <h3 id="revise-heading" tabIndex={-1} ref={props.headingRef}>
        Revise the {props.entry.category} entry for {props.entry.vrm}
      </h3>
      <p>A revision replaces every field below and restarts the 28-day review and 56-day expiry.</p>
      <form
        class="search-form"
        onSubmit={(e) => {
          e.preventDefault();
          props.onSave(draft);
        }}
      >
        <EntryFields draft={draft} set={set} />
        <FormActions submit="Save revision" disabled={props.busy}>
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        </FormActions>
      </form>
    </div>
  );
}

/** R-VOI-28: the manager's force's entries (and bulk lists) due for review, overdue first. */
function Reviews(props: { api: Api; version: number; onOpen: (vrm: string) => void }) {
  const [page, setPage] = useState<ReviewsPage | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    props.api
      .get<ReviewsPage>("voi/reviews", { limit: REVIEW_PAGE })
      .then((found) => {
        if (!live) return;
        setPage(found);
        setError(null);
      })
      .catch((exc: unknown) => live && setError(exc));
    return () => {
      live = false;
    };
  }, [props.api, props.version]);

  return (
    <section aria-labelledby="reviews-heading">
      <h2 id="reviews-heading">Due for review</h2>
      <ErrorMessage error={error} />
      {page && page.reviews.length === 0 && page.lists.length === 0 ? <p>Nothing is due for review.</p> : null}
      {page?.reviews.length ? (
        <table class="data">
          <caption>Your force's entries, overdue first</caption>
          <thead>
            <tr>
              <th scope="col">VRM</th>
              <th scope="col">Category</th>
              <th scope="col">Priority</th>
              <th scope="col">Review due</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {page.reviews.map((r) => (
              <tr key={r.voi_id}>
                <th scope="row">
                  <button type="button" class="link" aria-label={`Look up ${r.vrm}`} onClick={() => props.onOpen(r.vrm)}>
                    {r.vrm}
                  </button>
                </th>
                <td>{r.category}</td>
                <td>{r.priority}</td>
                <td>
                  {formatTime(r.review_due_at)}
                  {r.overdue ? <span class="badge">Overdue</span> : null}
                </td>
                <td>{formatTime(r.expires_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {page?.lists.length ? (
        <table class="data">
          <caption>Bulk lists: import each again before it expires</caption>
          <thead>
            <tr>
              <th scope="col">List</th>
              <th scope="col">Rows</th>
              <th scope="col">Review due</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {page.lists.map((l) => (
              <tr key={l.import_id}>
                <th scope="row">{l.source}</th>
                <td>{l.rows.toLocaleString("en-GB")}</td>
                <td>{formatTime(l.review_due_at)}</td>
                <td>{formatTime(l.expires_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export const voiScreen: Screen = {
  id: "voi",
  title: "VOI",
  groups: [Role.VOI_MANAGER, Role.OPERATOR],
  view: Voi,
};
