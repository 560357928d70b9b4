/** A read of the user's own search (SPEC §6, R-CORRECT): GET /reads/{id}?search_id= for its facts,
 * images held and corrections; each image held fetched with the user's token (an <img> cannot send
 * one) and shown from an object URL; and **Correct VRM**, POST /reads/{id}/corrections. The read is
 * opened only as a row of the search that found it: the API refuses any other. */

import { useEffect, useRef, useState } from "preact/hooks";

import type { Api } from "../api";
import { ErrorMessage, formatTime, InputField, Status, TextAreaField, useAction } from "../components/ui";
import type { ReadRow } from "./search-results";

interface Correction {
  correction_id: string;
  previous_vrm: string;
  vrm: string;
  reason: string;
  corrected_by: string;
  corrected_at: string;
}

export interface ReadDetail extends ReadRow {
  original_vrm: string;
  source: string;
  lane: number | null;
  ingested_at: string;
  images: Record<ImageKind, boolean>;
  corrections: Correction[];
}

interface CorrectionResult {
  read: ReadDetail;
  voi_matches: unknown[];
  voi_matches_withheld: number;
}

type ImageKind = "plate" | "overview";
const IMAGE_KINDS: ImageKind[] = ["plate", "overview"];

const readPath = (id: string) => `reads/${encodeURIComponent(id)}`;

/** The row's fields at once, then the read's own once it has loaded. */
export function ReadView(props: {
  api: Api;
  searchId: string;
  row: ReadRow;
  onClose: () => void;
  onCorrected: (read: ReadDetail) => void;
}) {
  const { api, searchId, row } = props;
  const [read, setRead] = useState<ReadDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    let open = true;
    api.get<ReadDetail>(readPath(row.read_id), { search_id: searchId }).then(
      (loaded) => open && setRead(loaded),
      (exc) => open && setError(exc),
    );
    return () => {
      open = false;
    };
  }, [api, searchId, row.read_id]);

  const shown = read ?? row;
  const facts: [string, string | number][] = [
    ["VRM", shown.vrm],
    ["Captured", formatTime(shown.captured_at)],
    ["Camera", shown.camera_id],
    ["Force", shown.lea],
    [
      "Position",
      shown.lat !== null && shown.lon !== null ? `${shown.lat.toFixed(5)}, ${shown.lon.toFixed(5)}` : "unknown",
    ],
    ["Direction", shown.direction ?? "unknown"],
    ["Confidence", shown.confidence ?? "unknown"],
    ["Corrected", shown.corrected ? "yes" : "no"],
    ["Read", shown.read_id],
    ["Read reference", shown.read_ref],
  ];
  if (read) {
    facts.push(["As the camera read it", read.original_vrm], ["Source", read.source], ["Lane", read.lane ?? "unknown"]);
    facts.push(["Received", formatTime(read.ingested_at)]);
  }
  const described = `${row.vrm} at ${row.camera_id}`;
  return (
    <section class="panel selected-read" aria-labelledby="selected-read-heading" data-read-id={row.read_id}>
      <h2 id="selected-read-heading" tabIndex={-1} ref={heading}>
        Read {described}
      </h2>
      <dl class="facts">
        {facts.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <ErrorMessage error={error} />
      {read ? (
        <>
          <div class="read-images">
            {IMAGE_KINDS.map((kind) =>
              read.images[kind] ? (
                <ReadImage key={kind} api={api} searchId={searchId} readId={row.read_id} kind={kind} of={described} />
              ) : (
                <p key={kind} data-no-image={kind}>
                  No {kind} image is held for this read.
                </p>
              ),
            )}
          </div>
          <Corrections corrections={read.corrections} />
          <CorrectVrm
            api={api}
            searchId={searchId}
            read={read}
            onCorrected={(next) => {
              setRead(next);
              props.onCorrected(next);
            }}
          />
        </>
      ) : null}
      <button type="button" class="secondary" onClick={props.onClose}>
        Close read
      </button>
    </section>
  );
}

function ReadImage(props: { api: Api; searchId: string; readId: string; kind: ImageKind; of: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let open = true;
    props.api.image(`${readPath(props.readId)}/images/${props.kind}`, { search_id: props.searchId }).then(
      (blob) => {
        if (!open) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      },
      (exc) => open && setError(exc),
    );
    return () => {
      open = false;
      // The bytes are personal data: released with the view, not kept for the page's life.
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [props.readId, props.kind]);
  const name = props.kind === "plate" ? "Plate" : "Overview";
  return (
    <figure class={`read-image ${props.kind}`}>
      {url ? <img src={url} alt={`${name} image of read ${props.of}`} /> : null}
      {error ? <ErrorMessage error={error} /> : url ? null : <p>Loading the {props.kind} image…</p>}
      <figcaption>{name} image</figcaption>
    </figure>
  );
}

function Corrections(props: { corrections: Correction[] }) {
  if (props.corrections.length === 0) return <p>No corrections.</p>;
  return (
    <>
      <h3>Corrections</h3>
      <ol class="corrections">
        {props.corrections.map((c) => (
          <li key={c.correction_id} data-correction-id={c.correction_id}>
            {c.previous_vrm} to {c.vrm} by {c.corrected_by}, {formatTime(c.corrected_at)}: {c.reason}
          </li>
        ))}
      </ol>
    </>
  );
}

function CorrectVrm(props: { api: Api; searchId: string; read: ReadDetail; onCorrected: (read: ReadDetail) => void }) {
  const [vrm, setVrm] = useState("");
  const [reason, setReason] = useState("");
  const [outcome, setOutcome] = useState<string | null>(null);
  const correcting = useAction();

  function submit(event: Event) {
    event.preventDefault();
    setOutcome(null);
    return correcting.run(async () => {
      const previous = props.read.vrm;
      const result = await props.api.post<CorrectionResult>(`${readPath(props.read.read_id)}/corrections`, {
        search_id: props.searchId,
        vrm: vrm.trim(),
        reason: reason.trim(),
      });
      const voi = result.voi_matches.length + result.voi_matches_withheld;
      setOutcome(
        `VRM corrected from ${previous} to ${result.read.vrm}.` +
          (voi ? ` ${voi} live VOI ${voi === 1 ? "entry lists" : "entries list"} it; no alert is raised.` : ""),
      );
      setVrm("");
      setReason("");
      props.onCorrected(result.read);
    });
  }

  return (
    <form class="correct-vrm" onSubmit={submit} aria-labelledby="correct-vrm-heading">
      <h3 id="correct-vrm-heading">Correct VRM</h3>
      <InputField label="New VRM" required maxLength={20} autoComplete="off" value={vrm} onValue={setVrm} />
      <TextAreaField
        label="Reason"
        hint="What the images show; 10 to 1,000 characters. It is audited."
        required
        minLength={10}
        maxLength={1000}
        value={reason}
        onValue={setReason}
      />
      <button type="submit" disabled={correcting.busy}>
        Correct VRM
      </button>
      {outcome ? <Status>{outcome}</Status> : null}
      <ErrorMessage error={correcting.error} />
    </form>
  );
}
