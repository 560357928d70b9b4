/** **Preserve** (senior investigator; R-PRESERVE): the reads selected in a search's results, copied
 * under a legal hold for a case by POST /preservations; the answer is the manifest's summary. */

import { useState } from "preact/hooks";

import type { Api } from "../api";
import { ErrorMessage, InputField, Status, TextAreaField, useAction } from "../components/ui";

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
  const [made, setMade] = useState<Preservation | null>(null);
  const preserving = useAction();
  const count = props.selected.length;

  function submit(event: Event) {
    event.preventDefault();
    setMade(null);
    return preserving.run(async () => {
      // None selected still goes: the API's own refusal names the field.
      setMade(
        await props.api.post<Preservation>("preservations", {
          search_id: props.searchId,
          read_ids: props.selected,
          case_ref: caseRef.trim(),
          reason: reason.trim(),
        }),
      );
    });
  }

  return (
    <form class="preserve" onSubmit={submit} aria-labelledby="preserve-heading">
      <h3 id="preserve-heading">Preserve</h3>
      <p>
        {count} read{count === 1 ? "" : "s"} selected: they are copied with their images under a legal hold for the
        case.
      </p>
      <InputField
        label="Case reference"
        required
        maxLength={64}
        autoComplete="off"
        value={caseRef}
        onValue={setCaseRef}
      />
      <TextAreaField
        label="Reason"
        hint="Why these reads are evidence; 10 to 1,000 characters. It is audited."
        required
        minLength={10}
        maxLength={1000}
        value={reason}
        onValue={setReason}
      />
      <button type="submit" disabled={preserving.busy}>
        Preserve
      </button>
      <ErrorMessage error={preserving.error} />
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
