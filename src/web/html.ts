/**
 * Markup that is safe to send: built only by the `html` tag (which escapes every interpolated
 * value) or by `unsafeRaw` (grep for it: each use is a reviewed constant, never user data).
 * No other code path turns a string into SafeHtml, so user data can only reach a page escaped.
 */
export class SafeHtml {
  /** @internal use `html` or `unsafeRaw` */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an element body or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** What may be interpolated: text (escaped), SafeHtml (kept), lists of those, nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** The tag: `html\`<td>${machine.hostname}</td>\`` escapes the hostname. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Trusted markup from a constant in our own code. Never pass anything derived from input. */
export function unsafeRaw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Renders and joins a list (values escaped as with the tag). */
export function join(values: readonly HtmlValue[], separator: SafeHtml | string = ''): SafeHtml {
  return new SafeHtml(values.map(render).join(render(separator)));
}
