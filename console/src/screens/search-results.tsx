/** A search's results (SPEC §6, R-LIMIT): read rows as a table paged as the API pages, on a map of the
 * camera sites and a timeline of the sightings; a selected row opens the read view (`read-view.tsx`:
 * its images and **Correct VRM**), and a senior investigator selects rows to **Preserve**
 * (`preserve.tsx`). Convoy rows are VRMs seen with the target, in a table of their own. */

import { useState } from "preact/hooks";

import type { Api } from "../api";
import { CameraMap, type Site } from "../components/map";
import { type Sighting, Timeline } from "../components/timeline";
import { formatTime } from "../components/ui";
import { PreserveForm } from "./preserve";
import { type ReadDetail, ReadView } from "./read-view";

export type SearchType = "vrm" | "partial" | "location" | "convoy";
export type SearchStatus = "queued" | "running" | "succeeded" | "failed" | "expired";

export interface ReadRow {
  read_id: string;
  vrm: string;
  captured_at: string;
  camera_id: string;
  lea: string;
  lat: number | null;
  lon: number | null;
  direction: string | null;
  confidence: number | null;
  corrected: boolean;
  read_ref: string;
}

export interface ConvoyRead {
  read_id: string;
  camera_id: string;
  captured_at: string;
  read_ref: string;
}

export interface ConvoyRow {
  vrm: string;
  count: number;
  supporting_reads: number;
  cameras: string[];
  reads: ConvoyRead[];
}

export interface SearchPage {
  search_id: string;
  type: SearchType;
  status: SearchStatus;
  rows: (ReadRow | ConvoyRow)[];
  next_page_token: string | null;
  truncated: boolean;
  row_count: number | null;
  failure: string | null;
}

/** Rows of one page of the API: 100 (docs/search.md). */
export const PAGE_ROWS = 100;
/** Supporting read ids listed in a convoy row before "and N more". */
const IDS_SHOWN = 5;

const count = (n: number) => n.toLocaleString("en-GB");

export function isConvoy(row: ReadRow | ConvoyRow): row is ConvoyRow {
  return "supporting_reads" in row;
}

/** Camera sites of the rows, a point per camera sized by its sightings. */
export function sitesOf(rows: readonly ReadRow[]): Site[] {
  const sites = new Map<string, Site>();
  for (const row of rows) {
    if (row.lat === null || row.lon === null) continue;
    const site = sites.get(row.camera_id);
    if (site) site.count = (site.count ?? 0) + 1;
    else sites.set(row.camera_id, { id: row.camera_id, lat: row.lat, lon: row.lon, count: 1 });
  }
  return [...sites.values()];
}

export function ReadResults(props: {
  api: Api;
  searchId: string;
  page: SearchPage;
  pageIndex: number;
  tileUrl: string;
  selected: ReadRow | null;
  /** Whether to offer Preserve (senior investigators): the API decides anyway. */
  canPreserve: boolean;
  onSelect: (row: ReadRow) => void;
  onClose: () => void;
  onCorrected: (read: ReadDetail) => void;
}) {
  // Chosen for Preserve, kept across pages of the same search.
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const choose = (id: string, on: boolean) =>
    setChosen((current) => (on ? [...current, id] : current.filter((c) => c !== id)));
  const rows = props.page.rows.filter((r): r is ReadRow => !isConvoy(r));
  const first = props.pageIndex * PAGE_ROWS + 1;
  const sightings: Sighting[] = rows.map((r) => ({
    id: r.read_id,
    at: r.captured_at,
    label: `${r.vrm} at ${r.camera_id}`,
  }));
  const selectedId = props.selected?.read_id ?? null;
  const selectSite = (site: Site) => {
    const newest = rows.find((r) => r.camera_id === site.id); // rows are newest first
    if (newest) props.onSelect(newest);
  };

  return (
    <>
      {rows.length === 0 ? (
        <p>No reads match.</p>
      ) : (
        <>
          <table class="data results">
            <caption>
              Reads {count(first)} to {count(first + rows.length - 1)}
              {props.page.row_count !== null ? ` of ${count(props.page.row_count)}` : ""}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Captured</th>
                <th scope="col">VRM</th>
                <th scope="col">Camera</th>
                <th scope="col">Force</th>
                <th scope="col">Direction</th>
                <th scope="col">Confidence</th>
                {props.canPreserve ? <th scope="col">Preserve</th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const isSelected = row.read_id === selectedId;
                return (
                  <tr
                    key={row.read_id}
                    data-read-id={row.read_id}
                    class={isSelected ? "selected" : undefined}
                    aria-current={isSelected ? "true" : undefined}
                  >
                    <th scope="row">
                      <button type="button" class="link" data-read-id={row.read_id} onClick={() => props.onSelect(row)}>
                        {formatTime(row.captured_at)}
                      </button>
                    </th>
                    <td>
                      {row.vrm}
                      {row.corrected ? <span class="badge">Corrected</span> : null}
                    </td>
                    <td>{row.camera_id}</td>
                    <td>{row.lea}</td>
                    <td>{row.direction ?? "unknown"}</td>
                    <td>{row.confidence ?? "unknown"}</td>
                    {props.canPreserve ? (
                      <td class="choose">
                        <input
                          id={`choose-${row.read_id}`}
                          type="checkbox"
                          checked={chosen.includes(row.read_id)}
                          onChange={(e) => choose(row.read_id, e.currentTarget.checked)}
                        />
                        <label for={`choose-${row.read_id}`}>
                          Select<span class="visually-hidden"> read {row.read_id}</span>
                        </label>
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {props.canPreserve ? <PreserveForm api={props.api} searchId={props.searchId} selected={chosen} /> : null}
          <div class="visuals">
            <CameraMap
              sites={sitesOf(rows)}
              tileUrl={props.tileUrl}
              selected={props.selected?.camera_id ?? null}
              onSelect={selectSite}
              label={`Camera sites of reads ${count(first)} to ${count(first + rows.length - 1)}`}
            />
            <div>
              <Timeline sightings={sightings} width={560} />
              {props.selected ? (
                <ReadView
                  key={props.selected.read_id}
                  api={props.api}
                  searchId={props.searchId}
                  row={props.selected}
                  onClose={props.onClose}
                  onCorrected={props.onCorrected}
                />
              ) : null}
            </div>
          </div>
        </>
      )}
    </>
  );
}

export function ConvoyResults(props: { page: SearchPage; pageIndex: number }) {
  const rows = props.page.rows.filter(isConvoy);
  const first = props.pageIndex * PAGE_ROWS + 1;
  const sightings: Sighting[] = rows.flatMap((row) =>
    row.reads.map((r) => ({ id: `${row.vrm}/${r.read_id}`, at: r.captured_at, label: `${row.vrm} at ${r.camera_id}` })),
  );
  if (rows.length === 0) return <p>No vehicle was seen with the target often enough.</p>;
  return (
    <>
      <table class="data convoy">
        <caption>
          Vehicles {count(first)} to {count(first + rows.length - 1)}
          {props.page.row_count !== null ? ` of ${count(props.page.row_count)}` : ""} seen with the target, most
          occasions first
        </caption>
        <thead>
          <tr>
            <th scope="col">VRM</th>
            <th scope="col">Occasions</th>
            <th scope="col">Cameras</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
            <th scope="col">Supporting reads</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const times = row.reads.map((r) => r.captured_at).sort();
            const more = row.supporting_reads - Math.min(IDS_SHOWN, row.reads.length);
            return (
              <tr key={row.vrm} data-vrm={row.vrm}>
                <th scope="row">{row.vrm}</th>
                <td>{row.count}</td>
                <td>{row.cameras.join(", ")}</td>
                <td>{formatTime(times[0])}</td>
                <td>{formatTime(times[times.length - 1])}</td>
                <td>
                  {row.reads
                    .slice(0, IDS_SHOWN)
                    .map((r) => r.read_id)
                    .join(", ")}
                  {more > 0 ? ` and ${count(more)} more` : ""}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Timeline sightings={sightings} />
    </>
  );
}
