/** Search (investigator, senior investigator; SPEC §6, R-REASON, R-ACCESS, R-AUTHZ, R-LIMIT): the
 * search form, the search's progress (POST /searches, then GET /searches/{id} until it ends), its
 * results (`search-results.tsx`), the user's recent searches to reopen, and the authorisations granted
 * to them to name. Every rule is the API's: a refusal shows its rule code and message. */

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
import { type Authorisation, type AuthorisationList, isLive } from "./authorisation";
import {
  type ConvoyRow,
  ConvoyResults,
  isConvoy,
  type ReadRow,
  ReadResults,
  type SearchPage,
  type SearchStatus,
  type SearchType,
} from "./search-results";

export const SEARCH_TYPES: readonly [SearchType, string][] = [
  ["vrm", "VRM"],
  ["partial", "Partial plate"],
  ["location", "Location"],
  ["convoy", "Convoy"],
];
export const LEVELS = ["priority-volume", "serious-complex", "major"] as const;
export const PURPOSES = ["crime", "national-security", "tax-duty", "public-safety"] as const;
/** Polling GET /searches/{id}: soon at first (a local search has ended by then), then less often
 * (an Athena query takes seconds to tens of seconds). */
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 3_000;
const DAY_MS = 24 * 3600 * 1000;
const RECENT_PAGE = 10;

interface Draft {
  type: SearchType;
  vrm: string;
  ocr_tolerant: boolean;
  pattern: string;
  cameras: string;
  lat: string;
  lon: string;
  radius_m: string;
  within_s: string;
  min_sightings: string;
  from: string;
  to: string;
  level: string;
  purpose: string;
  reason: string;
  case_ref: string;
  authorisation_id: string;
}

/** The draft's fields a text, number or date control holds. */
type TextKey = Exclude<keyof Draft, "type" | "ocr_tolerant">;

interface SearchStarted {
  search_id: string;
  status: SearchStatus;
}

interface SearchSummary {
  search_id: string;
  type: SearchType;
  status: SearchStatus;
  created_at: string;
  from: string;
  to: string;
  criteria: Record<string, unknown>;
  investigation_level: string;
  case_ref: string;
  row_count: number | null;
  truncated: boolean | null;
}

interface SearchList {
  searches: SearchSummary[];
  next_page_token: string | null;
}

/** The body of POST /searches: the type's own fields only; everything else is the API's to judge. */
export function searchBody(draft: Draft, now: Date): Record<string, unknown> {
  const body: Record<string, unknown> = {
    type: draft.type,
    from: toInstant(draft.from),
    to: toInstant(draft.to) ?? now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    investigation_level: draft.level,
    purpose: draft.purpose,
    reason: draft.reason.trim(),
    case_ref: draft.case_ref.trim(),
  };
  if (draft.authorisation_id) body.authorisation_id = draft.authorisation_id;
  if (draft.type === "vrm") {
    body.vrm = draft.vrm.trim();
    body.ocr_tolerant = draft.ocr_tolerant;
  } else if (draft.type === "partial") {
    body.pattern = draft.pattern.trim();
  } else if (draft.type === "location") {
    const cameras = draft.cameras.split(/[\s,]+/).filter(Boolean);
    if (cameras.length) body.camera_ids = cameras;
    if (draft.lat || draft.lon || draft.radius_m) {
      // An empty part goes as null, so the API names the missing field rather than searching at 0.
      const number = (value: string) => (value.trim() === "" ? null : Number(value));
      body.near = { lat: number(draft.lat), lon: number(draft.lon), radius_m: number(draft.radius_m) };
    }
  } else {
    body.vrm = draft.vrm.trim();
    body.within_s = Number(draft.within_s);
    body.min_sightings = Number(draft.min_sightings);
  }
  return body;
}

/** What a search looked for, in a few words. */
export function describe(type: SearchType, criteria: Record<string, unknown>): string {
  const near = criteria.near as { lat: number; lon: number; radius_m: number } | null | undefined;
  switch (type) {
    case "vrm":
      return `VRM ${String(criteria.vrm)}${criteria.ocr_tolerant ? " (OCR tolerant)" : ""}`;
    case "partial":
      return `Pattern ${String(criteria.pattern)}`;
    case "location":
      return near
        ? `Within ${near.radius_m} m of ${near.lat}, ${near.lon}`
        : `Cameras ${((criteria.camera_ids as string[] | undefined) ?? []).join(", ")}`;
    case "convoy":
      return `Convoy of ${String(criteria.vrm)}`;
  }
}

function statusText(page: SearchPage): string {
  switch (page.status) {
    case "queued":
      return "Search queued…";
    case "running":
      return "Search running…";
    case "succeeded": {
      const what = page.type === "convoy" ? "vehicle" : "read";
      const rows = page.row_count ?? 0;
      return `Search finished: ${rows.toLocaleString("en-GB")} ${what}${rows === 1 ? "" : "s"} found.`;
    }
    case "failed":
      return `Search failed: ${page.failure ?? "no reason given"}.`;
    case "expired":
      return "This search's results have expired (they are kept one day): run it again.";
  }
}

function Search({ api, config, session }: ScreenProps) {
  const [draft, setDraft] = useState<Draft>(() => ({
    type: "vrm",
    vrm: "",
    ocr_tolerant: false,
    pattern: "",
    cameras: "",
    lat: "",
    lon: "",
    radius_m: "",
    within_s: "120",
    min_sightings: "3",
    from: toLocalInput(new Date(Date.now() - DAY_MS)),
    to: "",
    level: "priority-volume",
    purpose: "",
    reason: "",
    case_ref: "",
    authorisation_id: "",
  }));
  const [authorisations, setAuthorisations] = useState<Authorisation[]>([]);
  const starting = useAction();
  const [searchId, setSearchId] = useState<string | null>(null);
  const [page, setPage] = useState<SearchPage | null>(null);
  // Page tokens of the pages seen so far: tokens[i] fetches page i (null: the first).
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const [pageIndex, setPageIndex] = useState(0);
  const [pageError, setPageError] = useState<unknown>(null);
  const [loadingPage, setLoadingPage] = useState(false);
  const [selected, setSelected] = useState<ReadRow | null>(null);
  const [recentVersion, setRecentVersion] = useState(0);
  const poll = useRef<{ searchId: string | null; timer: number | undefined }>({ searchId: null, timer: undefined });
  const results = useRef<HTMLHeadingElement>(null);

  const mounted = useRef(true);

  /** The live authorisations granted to this user: on opening, and again when the Authorisation
   * field gets focus, so one granted meanwhile can be chosen without signing in again. */
  function loadAuthorisations() {
    api.get<AuthorisationList>("authorisations", { mine: "true", limit: 100 }).then(
      (list) => {
        if (mounted.current) setAuthorisations(list.authorisations.filter((a) => isLive(a, Date.now())));
      },
      () => undefined, // the form still works; a search naming an authorisation is the API's to judge
    );
  }

  useEffect(() => {
    mounted.current = true;
    loadAuthorisations();
    return () => {
      mounted.current = false;
      window.clearTimeout(poll.current.timer);
      poll.current.searchId = null;
    };
  }, [api]);

  /** Shows search `id` from its first page, polling while it is queued or running. */
  function open(id: string) {
    window.clearTimeout(poll.current.timer);
    poll.current.searchId = id;
    setSearchId(id);
    setPage(null);
    setTokens([null]);
    setPageIndex(0);
    setSelected(null);
    setPageError(null);
    let delay = POLL_FIRST_MS;
    const check = async () => {
      try {
        const next = await api.get<SearchPage>(`searches/${encodeURIComponent(id)}`);
        if (poll.current.searchId !== id) return; // another search was opened meanwhile
        setPage(next);
        if (next.status === "queued" || next.status === "running") {
          poll.current.timer = window.setTimeout(() => void check(), delay);
          delay = Math.min(POLL_MAX_MS, delay * 2);
        } else {
          setTokens([null, next.next_page_token]);
          setRecentVersion((v) => v + 1);
        }
      } catch (exc) {
        if (poll.current.searchId === id) setPageError(exc);
      }
    };
    void check();
    window.setTimeout(() => results.current?.focus(), 0);
  }

  async function goTo(index: number) {
    const token = tokens[index];
    if (!searchId || token === undefined) return;
    setLoadingPage(true);
    setPageError(null);
    try {
      const next = await api.get<SearchPage>(`searches/${encodeURIComponent(searchId)}`, { page_token: token });
      setPage(next);
      setPageIndex(index);
      setSelected(null);
      setTokens((current) => [...current.slice(0, index + 1), next.next_page_token]);
      results.current?.focus();
    } catch (exc) {
      setPageError(exc);
    } finally {
      setLoadingPage(false);
    }
  }

  function submit(event: Event) {
    event.preventDefault();
    // The previous search's results make way: a refusal must not sit beside rows it did not produce.
    window.clearTimeout(poll.current.timer);
    poll.current.searchId = null;
    setSearchId(null);
    setPage(null);
    setSelected(null);
    return starting.run(async () => {
      const started = await api.post<SearchStarted>("searches", searchBody(draft, new Date()));
      open(started.search_id);
      setRecentVersion((v) => v + 1);
    });
  }

  /** A corrected read shows its new VRM in the table too, without running the search again. */
  function showCorrected(read: ReadRow) {
    const patch = (row: ReadRow | ConvoyRow) =>
      !isConvoy(row) && row.read_id === read.read_id ? { ...row, vrm: read.vrm, corrected: true } : row;
    setPage((current) => current && { ...current, rows: current.rows.map(patch) });
    setSelected((current) => current && (patch(current) as ReadRow));
  }

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  /** A text draft field's value and setter, as the labelled controls take them. */
  const bind = (key: TextKey) => ({ value: draft[key], onValue: (value: string) => set(key, value) });
  const pickAuthorisation = (id: string) => {
    const chosen = authorisations.find((a) => a.authorisation_id === id);
    // An authorisation holds for one case and level (R-AUTHZ): choosing it fills them in.
    setDraft((d) =>
      chosen
        ? { ...d, authorisation_id: id, case_ref: chosen.case_ref, level: chosen.investigation_level }
        : { ...d, authorisation_id: "" },
    );
  };
  const running = page !== null && (page.status === "queued" || page.status === "running");
  const next = tokens[pageIndex + 1];

  return (
    <div class="search">
      <form class="search-form" onSubmit={submit}>
        <fieldset>
          <legend>What</legend>
          <SelectField
            label="Search type"
            options={SEARCH_TYPES}
            value={draft.type}
            onValue={(v) => set("type", v as SearchType)}
          />
          {draft.type === "vrm" || draft.type === "convoy" ? (
            <InputField
              label="VRM"
              hint={draft.type === "convoy" ? "The target vehicle." : undefined}
              required
              maxLength={20}
              autoComplete="off"
              {...bind("vrm")}
            />
          ) : null}
          {draft.type === "vrm" ? (
            <Check
              label="OCR tolerant"
              hint="Also VRMs differing only by look-alike characters (0/O, 8/B, 1/I …)."
              checked={draft.ocr_tolerant}
              onChange={(v) => set("ocr_tolerant", v)}
            />
          ) : null}
          {draft.type === "partial" ? (
            <InputField
              label="Pattern"
              hint="? for one character, * for any run; at least 3 known characters; 31 days at most."
              required
              minLength={3}
              maxLength={30}
              autoComplete="off"
              {...bind("pattern")}
            />
          ) : null}
          {draft.type === "location" ? (
            <>
              <InputField
                label="Cameras"
                hint="Camera ids separated by commas, up to 20; or a point and radius below. 24 hours at most."
                maxLength={1400}
                autoComplete="off"
                {...bind("cameras")}
              />
              <div class="near">
                <InputField label="Near latitude" type="number" step="any" min={-90} max={90} {...bind("lat")} />
                <InputField label="Near longitude" type="number" step="any" min={-180} max={180} {...bind("lon")} />
                <InputField
                  label="Radius (metres)"
                  hint="At most 2,000."
                  type="number"
                  min={1}
                  max={2000}
                  {...bind("radius_m")}
                />
              </div>
            </>
          ) : null}
          {draft.type === "convoy" ? (
            <div class="near">
              <InputField
                label="Within seconds"
                hint="Of a target read; at most 600."
                type="number"
                required
                min={1}
                max={600}
                {...bind("within_s")}
              />
              <InputField
                label="Minimum sightings"
                type="number"
                required
                min={2}
                max={100}
                {...bind("min_sightings")}
              />
            </div>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>When</legend>
          <InputField
            label="From"
            hint="Your local time. Beyond 90 days needs serious-complex or major and an authorisation."
            type="datetime-local"
            required
            {...bind("from")}
          />
          <InputField label="To" hint="Empty for now." type="datetime-local" {...bind("to")} />
        </fieldset>
        <fieldset>
          <legend>Why</legend>
          <SelectField label="Investigation level" options={LEVELS} {...bind("level")} />
          <SelectField label="Purpose" required options={PURPOSES} {...bind("purpose")}>
            <option value="" disabled>
              Choose a purpose
            </option>
          </SelectField>
          <TextAreaField
            label="Reason"
            hint="Why this search is necessary and proportionate; 10 to 1,000 characters. It is audited."
            required
            minLength={10}
            maxLength={1000}
            {...bind("reason")}
          />
          <InputField label="Case reference" required maxLength={64} autoComplete="off" {...bind("case_ref")} />
          <SelectField
            label="Authorisation"
            hint="Granted to you for a case; choosing one fills in its case and level."
            options={authorisations.map((a) => [
              a.authorisation_id,
              `${a.case_ref}, ${a.investigation_level}, ${a.max_lookback_days} days, until ${formatTime(a.expires_at)}`,
            ])}
            value={draft.authorisation_id}
            onFocus={loadAuthorisations}
            onValue={pickAuthorisation}
          >
            <option value="">None</option>
          </SelectField>
        </fieldset>
        <FormActions submit="Search" disabled={starting.busy} />
      </form>
      <ErrorMessage error={starting.error} />

      <section class="results" aria-labelledby="results-heading" aria-busy={running || loadingPage}>
        <h2 id="results-heading" tabIndex={-1} ref={results}>
          Results
        </h2>
        {searchId ? <Status>{page ? statusText(page) : "Search started…"}</Status> : <p>No search yet.</p>}
        {page?.truncated ? (
          <p class="notice" data-truncated="true">
            <strong>Truncated:</strong> more reads matched than the {(page.row_count ?? 1000).toLocaleString("en-GB")}{" "}
            kept. Narrow the search to see them all.
          </p>
        ) : null}
        <ErrorMessage error={pageError} />
        {page?.status === "succeeded" ? (
          page.type === "convoy" ? (
            <ConvoyResults page={page} pageIndex={pageIndex} />
          ) : (
            <ReadResults
              api={api}
              searchId={page.search_id}
              page={page}
              pageIndex={pageIndex}
              tileUrl={config.tile_url}
              selected={selected}
              canPreserve={session.groups.includes(Role.SENIOR_INVESTIGATOR)}
              onSelect={setSelected}
              onClose={() => setSelected(null)}
              onCorrected={showCorrected}
            />
          )
        ) : null}
        {page?.status === "succeeded" && (pageIndex > 0 || next) ? (
          <div class="actions pager">
            <button
              type="button"
              class="secondary"
              disabled={pageIndex === 0 || loadingPage}
              onClick={() => void goTo(pageIndex - 1)}
            >
              Previous page
            </button>
            <span>Page {pageIndex + 1}</span>
            <button
              type="button"
              class="secondary"
              disabled={!next || loadingPage}
              onClick={() => void goTo(pageIndex + 1)}
            >
              Next page
            </button>
          </div>
        ) : null}
      </section>

      <RecentSearches api={api} version={recentVersion} current={searchId} onOpen={open} />
    </div>
  );
}

function RecentSearches(props: { api: Api; version: number; current: string | null; onOpen: (id: string) => void }) {
  const [pages, setPages] = useState<SearchList[]>([]);
  const [error, setError] = useState<unknown>(null);

  async function load(token: string | null) {
    try {
      const list = await props.api.get<SearchList>("searches", { limit: RECENT_PAGE, page_token: token });
      setPages((current) => (token ? [...current, list] : [list]));
      setError(null);
    } catch (exc) {
      setError(exc);
    }
  }

  useEffect(() => {
    void load(null);
  }, [props.version]);

  const searches = pages.flatMap((p) => p.searches);
  const next = pages.length ? (pages[pages.length - 1]?.next_page_token ?? null) : null;
  return (
    <section class="recent" aria-labelledby="recent-heading">
      <h2 id="recent-heading">Your recent searches</h2>
      <ErrorMessage error={error} />
      {pages.length && searches.length === 0 ? <p>No searches in the last 31 days.</p> : null}
      {searches.length ? (
        <table class="data">
          <caption>Newest first; results are kept one day</caption>
          <thead>
            <tr>
              <th scope="col">Search</th>
              <th scope="col">Started</th>
              <th scope="col">Window</th>
              <th scope="col">Level</th>
              <th scope="col">Case</th>
              <th scope="col">Status</th>
              <th scope="col">Results</th>
            </tr>
          </thead>
          <tbody>
            {searches.map((s) => (
              <tr
                key={s.search_id}
                data-search-id={s.search_id}
                aria-current={s.search_id === props.current ? "true" : undefined}
              >
                <th scope="row">
                  <button type="button" class="link" onClick={() => props.onOpen(s.search_id)}>
                    {describe(s.type, s.criteria)}
                  </button>
                </th>
                <td>{formatTime(s.created_at)}</td>
                <td>
                  {formatTime(s.from)} to {formatTime(s.to)}
                </td>
                <td>{s.investigation_level}</td>
                <td>{s.case_ref}</td>
                <td>{s.status}</td>
                <td>
                  {s.row_count ?? ""}
                  {s.truncated ? " (truncated)" : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {next ? (
        <button type="button" class="secondary" onClick={() => void load(next)}>
          More searches
        </button>
      ) : null}
    </section>
  );
}

export const searchScreen: Screen = {
  id: "search",
  title: "Search",
  groups: [Role.INVESTIGATOR, Role.SENIOR_INVESTIGATOR],
  view: Search,
};
