import { errorMessage, GatehouseError } from '../errors.js';
import { html, type SafeHtml } from './html.js';
import { fieldErrors } from './layout.js';

export type FieldErrors = Record<string, string[]>;

/** Validation outcome of a domain write: per-field messages (as the API sends them) and/or one general message. */
export interface FormProblems {
  fields: FieldErrors;
  general?: string;
}

/**
 * Turns what a domain function threw into messages for the form: field errors are those of the
 * admin API (`details.fields`), anything else is one general message. Non-domain errors rethrow.
 */
export function problemsOf(e: unknown): FormProblems {
  if (e instanceof GatehouseError) {
    const fields = (e.details?.fields as FieldErrors | undefined) ?? {};
    return Object.keys(fields).length ? { fields } : { fields: {}, general: e.message };
  }
  throw e;
}

export function generalProblem(p: FormProblems | undefined): SafeHtml {
  if (!p) return html``;
  const unshown = Object.keys(p.fields).length === 0 && p.general;
  return unshown
    ? html`<p class="refusal" role="alert">${p.general}</p>`
    : html`<p class="refusal" role="alert">Please correct the errors below.</p>`;
}

interface InputOptions {
  type?: string;
  readonly?: boolean;
  required?: boolean;
  hint?: string;
  placeholder?: string;
}

export function input(
  name: string,
  label: string,
  value: string | number | null | undefined,
  p: FormProblems | undefined,
  o: InputOptions = {},
): SafeHtml {
  const invalid = p?.fields[name]?.length ? html` aria-invalid="true" aria-describedby="${name}-error"` : '';
  return html`<label>${label}<input name="${name}" id="f-${name}" type="${o.type ?? 'text'}" value="${value ?? ''}"${o.readonly ? html` readonly` : ''}${o.required ? html` required` : ''}${o.placeholder ? html` placeholder="${o.placeholder}"` : ''}${invalid}>${o.hint ? html`<small>${o.hint}</small>` : ''}${fieldErrors(p?.fields, name)}</label>`;
}

export function textarea(
  name: string,
  label: string,
  value: string | null | undefined,
  p: FormProblems | undefined,
): SafeHtml {
  return html`<label>${label}<textarea name="${name}" id="f-${name}" rows="3">${value ?? ''}</textarea>${fieldErrors(p?.fields, name)}</label>`;
}

export function select(
  name: string,
  label: string,
  options: readonly string[],
  value: string | undefined,
  p: FormProblems | undefined,
  o: { blank?: string } = {},
): SafeHtml {
  return html`<label>${label}<select name="${name}" id="f-${name}">${o.blank !== undefined ? html`<option value="">${o.blank}</option>` : ''}${options.map((opt) => html`<option value="${opt}"${opt === value ? html` selected` : ''}>${opt}</option>`)}</select>${fieldErrors(p?.fields, name)}</label>`;
}

export function checkbox(
  name: string,
  label: string,
  checked: boolean,
  p: FormProblems | undefined,
): SafeHtml {
  // The hidden field makes an unchecked box send "false" rather than nothing.
  return html`<input type="hidden" name="${name}" value="false"><label><input type="checkbox" name="${name}" value="true" id="f-${name}"${checked ? html` checked` : ''}> ${label}</label>${fieldErrors(p?.fields, name)}`;
}

/** The last value of a field (a checkbox sends the hidden "false" then "true"). */
export function last(form: URLSearchParams, name: string): string | undefined {
  const all = form.getAll(name);
  return all.length ? all[all.length - 1] : undefined;
}

/** Picks the named fields the form sent (absent ones stay absent: the domain applies its defaults). */
export function pick(
  form: URLSearchParams,
  names: readonly string[],
  booleans: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const v = last(form, n);
    if (v === undefined) continue;
    out[n] = booleans.includes(n) ? v === 'true' : v;
  }
  return out;
}

export { errorMessage };
