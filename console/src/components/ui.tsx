/** Small building blocks every screen uses, so labels, errors and status messages behave alike
 * (WCAG 2.2: every control has a visible label; errors are announced; status changes are polite). */

import type { ComponentChildren, InputHTMLAttributes, SelectHTMLAttributes, TextareaHTMLAttributes } from "preact";
import { useId, useState } from "preact/hooks";

import { ApiError } from "../api";

export function Field(props: { label: string; hint?: string; children: (id: string, hintId?: string) => ComponentChildren }) {
  const id = useId();
  const hintId = props.hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint ? (
        <span class="hint" id={hintId}>
          {props.hint}
        </span>
      ) : null}
      {props.children(id, hintId)}
    </div>
  );
}

/** What every labelled control below takes besides its element's own attributes. */
interface Labelled {
  label: string;
  hint?: string;
  value: string;
  /** The control's new value, as the user types or chooses it. */
  onValue: (value: string) => void;
}

/** An element's attributes less those the labelled control sets itself; each member of a union
 * apart, as Preact types an <input>'s attributes by its `type`. */
type Own<T> = T extends unknown
  ? Omit<T, keyof Labelled | "id" | "aria-describedby" | "onInput" | "onChange" | "children">
  : never;

/** An <input> (text, number, date…) in its Field; its other attributes (required, maxLength, type,
 * autoComplete, ref…) pass through as given. */
export function InputField(props: Labelled & Own<InputHTMLAttributes<HTMLInputElement>>) {
  const { label, hint, value, onValue, ...attributes } = props;
  return (
    <Field label={label} hint={hint}>
      {(id, hintId) => (
        <input
          id={id}
          aria-describedby={hintId}
          {...attributes}
          value={value}
          onInput={(e) => onValue(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** A <textarea> in its Field, two rows unless `rows` says otherwise. */
export function TextAreaField(props: Labelled & Own<TextareaHTMLAttributes<HTMLTextAreaElement>>) {
  const { label, hint, value, onValue, ...attributes } = props;
  return (
    <Field label={label} hint={hint}>
      {(id, hintId) => (
        <textarea
          id={id}
          aria-describedby={hintId}
          rows={2}
          {...attributes}
          value={value}
          onInput={(e) => onValue(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** A choice: its value, shown as itself, or a value and the name shown for it. */
export type Option = string | readonly [value: string, name: string];

/** A <select> over `options` in its Field; `children` come first (an "Any" or "Choose …" option). */
export function SelectField(
  props: Labelled &
    Own<SelectHTMLAttributes<HTMLSelectElement>> & { options: readonly Option[]; children?: ComponentChildren },
) {
  const { label, hint, value, onValue, options, children, ...attributes } = props;
  return (
    <Field label={label} hint={hint}>
      {(id, hintId) => (
        <select
          id={id}
          aria-describedby={hintId}
          {...attributes}
          value={value}
          onChange={(e) => onValue(e.currentTarget.value)}
        >
          {children}
          {options.map((option) => {
            const [choice, name] = typeof option === "string" ? [option, option] : option;
            return (
              <option key={choice} value={choice}>
                {name}
              </option>
            );
          })}
        </select>
      )}
    </Field>
  );
}

/** A form's submit button, and any other buttons (Cancel) after it. */
export function FormActions(props: { submit: string; disabled?: boolean; children?: ComponentChildren }) {
  return (
    <div class="actions">
      <button type="submit" disabled={props.disabled}>
        {props.submit}
      </button>
      {props.children}
    </div>
  );
}

/** One API action at a time: `busy` while it runs, and what it threw (the API's refusal) as `error`,
 * cleared each time it runs again. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(work: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, setError, run };
}

/** A refusal or failure in the API's own words; `rule` shows the rule code a 403 names. */
export function ErrorMessage(props: { error: unknown }) {
  if (!props.error) return null;
  const error = props.error;
  const text = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : null;
  return (
    <p class="error" role="alert">
      {text}
      {code ? <span class="rule"> ({code})</span> : null}
    </p>
  );
}

export function Status(props: { children: ComponentChildren }) {
  return (
    <p class="status" role="status">
      {props.children}
    </p>
  );
}

const TIME = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});

/** An instant as UK time (GMT/BST), the way control rooms read clocks. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : TIME.format(date);
}

/** A `datetime-local` input's value (local wall time) as RFC 3339 UTC, or undefined when empty. */
export function toInstant(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A Date as a `datetime-local` input value in the browser's time zone. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A checkbox with its label after it and a hint below, as GOV.UK-style forms lay them out. */
export function Check(props: { label: string; hint: string; checked: boolean; onChange: (value: boolean) => void }) {
  const id = useId();
  return (
    <div class="field check">
      <input
        id={id}
        type="checkbox"
        aria-describedby={`${id}-hint`}
        checked={props.checked}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <label for={id}>{props.label}</label>
      <span class="hint" id={`${id}-hint`}>
        {props.hint}
      </span>
    </div>
  );
}
