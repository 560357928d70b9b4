/** **Preserve** (senior investigator; R-PRESERVE): the reads selected in a search's results, copied
 * under a legal hold for a case by POST /preservations; the answer is the manifest's summary. */

import { useState } from "preact/hooks";

import type { Api } from "../api";
import { ErrorMessage, Field, Status } from "../components/ui";

interface Preservation {
  preservation_id: string;
  case_ref: string;
  reads: number;
  files: number;
  manifest_sha256: string | null;
  preserved_reads: { n: number; read_id: string; vrm: string; camera_id: string }[];
}

export function PreserveForm(props: { api: Api; searchId: string; selected: readonly string[] }) {
  const [caseRef, setCaseRef] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<Preservation | null>(null);
  const [refusal, setRefusal] = useState<unknown>(null);
  const count = props.selected.length;

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setMade(null);
    setRefusal(null);
    try {
      // None selected still goes: the API's own refusal names the field.
      setMade(
        await props.api.post<Preservation>("preservations", {
          search_id: props.searchId,
          read_ids: props.selected,
          case_ref: caseRef.trim(),
          reason: reason.trim(),
        }),
      );
    } catch (exc) {
      setRefusal(exc);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="preserve" onSubmit={submit} aria-labelledby="preserve-heading">
      <h3 id="preserve-heading">Preserve</h3>
      <p>
        {count} read{count === 1 ? "" : "s"} selected: they are copied with their images under a legal hold for the
        case.
      </p>
      <Field label="Case reference">
        {(id) => (
          <input
            id={id}
            required
            maxLength={64}
            autoComplete="off"
            value={caseRef}
            onInput={(e) => setCaseRef(e.currentTarget.value)}
          />
        )}
      </Field>
      <Field label="Reason" hint="Why these reads are evidence; 10 to 1,000 characters. It is audited.">
        {(id, hint) => (
          <textarea
            id={id}
            aria-describedby={hint}
            required
            minLength={10}
            maxLength={1000}
            rows={2}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        )}
      </Field>
      <button type="submit" disabled={busy}>
        Preserve
      </button>
      <ErrorMessage error={refusal} />
      {made ? (
        <div data-preservation-id={made.preservation_id}>
          <Status>
            Preservation {made.preservation_id} made for case {made.case_ref}: {made.reads} read
            {made.reads === 1 ? "" : "s"}, {made.files} file{made.files === 1 ? "" : "s"} under legal hold.
          </Status>
          <p class="manifest">Manifest SHA-256: {made.manifest_sha256 ?? "not yet written"}</p>
          <ol>
            {made.preserved_reads.map((r) => (
              <li key={r.read_id} data-read-id={r.read_id}>
                {r.vrm} at {r.camera_id} ({r.read_id})
              </li>
            ))}
          </ol>
        </div>
      ) : null}
    </form>
  );
}
