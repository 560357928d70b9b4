/** Import list (R-VOI-BULK, NATIONAL voi-managers; docs/voi-lists.md): count the file's data rows,
 * ask the API for an import (POST /voi/imports), PUT the file to the presigned URL it returns with
 * the upload's progress, then poll GET /voi/imports/{id} with the load's progress until the import
 * succeeds or fails, and show its counts and rejected rows. The file never passes through the API;
 * the list in force changes only if the whole import succeeds. */

import { useEffect, useRef, useState } from "preact/hooks";

import { type Api, uploadFile } from "../api";
import { ErrorMessage, Field, FormActions, formatTime, SelectField, Status } from "../components/ui";

const LIST_SOURCES = ["dvla", "mib", "pnc", "whitelist"] as const;
const POLL_MS = 1000;
const FINISHED = new Set(["succeeded", "failed"]);
const COUNTS = ["rows", "accepted", "rejected", "added", "changed", "unchanged", "removed"] as const;

interface ImportCreated {
  import_id: string;
  upload_url: string;
  expires_at: string;
}

interface ImportView {
  import_id: string;
  source: string;
  file_name: string;
  status: "awaiting-upload" | "loading" | "succeeded" | "failed";
  rows_expected: number;
  rows_loaded: number;
  started_at: string | null;
  finished_at: string | null;
  counts: Record<(typeof COUNTS)[number], number> | null;
  failure: { code: string; message: string } | null;
  rejects: { line: number; field: string; message: string }[];
  rejects_total: number;
  rejects_url: string | null;
}

type Stage = "idle" | "counting" | "uploading" | "loading" | "done";

/** Data rows as the load counts them (and `nas voi import`): lines after the header holding anything
 * but ASCII white space. Read as a stream, so a list of millions of rows is never held whole. */
export async function countRows(file: Blob): Promise<number> {
  const reader = file.stream().getReader();
  let rows = 0;
  let header = true;
  let content = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const byte of value) {
      if (byte === 0x0a) {
        if (!header && content) rows += 1;
        header = false;
        content = false;
      } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0b && byte !== 0x0c) {
        content = true;
      }
    }
  }
  if (!header && content) rows += 1;
  return rows;
}

const number = (n: number) => n.toLocaleString("en-GB");

export function ImportList(props: { api: Api }) {
  const { api } = props;
  const [source, setSource] = useState<string>(LIST_SOURCES[0]);
  const [file, setFile] = useState<File | null>(null);
  const [stage, setStage] = useState<Stage>("idle");
  const [sent, setSent] = useState({ bytes: 0, total: 0 });
  const [state, setState] = useState<ImportView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const mounted = useRef(true);
  const resultHeading = useRef<HTMLHeadingElement>(null);

  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  useEffect(() => {
    if (stage === "done") resultHeading.current?.focus();
  }, [stage]);

  async function poll(importId: string) {
    for (;;) {
      const now = await api.get<ImportView>(`voi/imports/${encodeURIComponent(importId)}`);
      if (!mounted.current) return;
      setState(now);
      if (FINISHED.has(now.status)) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!mounted.current) return;
    }
  }

  async function start(event: Event) {
    event.preventDefault();
    if (!file) return;
    setError(null);
    setState(null);
    setSent({ bytes: 0, total: file.size });
    try {
      setStage("counting");
      const rows = await countRows(file);
      const created = await api.post<ImportCreated>("voi/imports", {
        source,
        file_name: file.name.slice(0, 200),
        rows_expected: rows,
      });
      setStage("uploading");
      await uploadFile(created.upload_url, file, (bytes, total) => mounted.current && setSent({ bytes, total }));
      setStage("loading");
      await poll(created.import_id);
    } catch (exc) {
      if (mounted.current) setError(exc);
    } finally {
      if (mounted.current) setStage("done");
    }
  }

  const working = stage === "counting" || stage === "uploading" || stage === "loading";
  const loaded = state ? Math.min(state.rows_loaded, state.rows_expected) : 0;

  return (
    <section aria-labelledby="import-heading">
      <h2 id="import-heading">Import list</h2>
      <p>
        A file replaces its source's whole list, and only if the import succeeds: one header line, then one row per
        line (docs/voi-lists.md). National managers only.
      </p>
      <form class="filters" onSubmit={start}>
        <SelectField label="Source" options={LIST_SOURCES} value={source} onValue={setSource} />
        <Field label="File" hint="CSV, UTF-8.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="file"
              accept=".csv,text/csv"
              required
              onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
            />
          )}
        </Field>
        <FormActions submit="Import list" disabled={working || !file} />
      </form>

      {stage !== "idle" ? (
        <div class="import-progress">
          <div class="field">
            <label for="upload-progress">Upload</label>
            <progress id="upload-progress" max={Math.max(sent.total, 1)} value={sent.bytes}>
              {number(sent.bytes)} of {number(sent.total)} bytes
            </progress>
            <span class="hint">
              {stage === "counting" ? "Counting rows…" : `${number(sent.bytes)} of ${number(sent.total)} bytes sent`}
            </span>
          </div>
          <div class="field">
            <label for="load-progress">Load</label>
            <progress id="load-progress" max={Math.max(state?.rows_expected ?? 1, 1)} value={loaded}>
              {number(loaded)} rows
            </progress>
            <span class="hint">
              {state ? `${number(loaded)} of ${number(state.rows_expected)} rows read (${state.status})` : "Waiting for the upload"}
            </span>
          </div>
        </div>
      ) : null}

      <ErrorMessage error={error} />

      {state && FINISHED.has(state.status) ? (
        <div class="import-result">
          <h3 id="import-result-heading" tabIndex={-1} ref={resultHeading}>
            Import of {state.file_name} into the {state.source} list {state.status}
          </h3>
          {state.status === "succeeded" ? (
            <Status>
              The {state.source} list is replaced{state.finished_at ? ` (${formatTime(state.finished_at)})` : ""}: matching
              uses it within seconds.
            </Status>
          ) : null}
          {state.failure ? (
            <p class="error" role="alert">
              The list in force is unchanged: {state.failure.message}
              <span class="rule"> ({state.failure.code})</span>
            </p>
          ) : null}
          {state.counts ? (
            <table class="data import-counts">
              <caption>Counts against the list replaced</caption>
              <thead>
                <tr>
                  {COUNTS.map((c) => (
                    <th key={c} scope="col">
                      {c[0].toUpperCase() + c.slice(1)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                <tr>
                  {COUNTS.map((c) => (
                    <td key={c} data-count={c}>
                      {number(state.counts?.[c] ?? 0)}
                    </td>
                  ))}
                </tr>
              </tbody>
            </table>
          ) : null}
          {state.rejects_total ? (
            <table class="data import-rejects">
              <caption>
                Rejected rows ({number(state.rejects_total)}
                {state.rejects.length < state.rejects_total ? `, the first ${number(state.rejects.length)} shown` : ""})
              </caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Field</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {state.rejects.map((r) => (
                  <tr key={`${r.line}-${r.field}`}>
                    <th scope="row">{r.line}</th>
                    <td>{r.field}</td>
                    <td>{r.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {state.rejects_url ? (
            <p>
              <a href={state.rejects_url} download={`${state.import_id}-rejects.csv`}>
                Every rejected row (CSV)
              </a>
            </p>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
