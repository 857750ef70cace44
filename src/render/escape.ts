/**
 * Escaping for everything this library writes into HTML. Class names, layer names and titles come
 * from users' models, so every string goes through one of these before it reaches markup.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '\u2028': '&#8232;',
  '\u2029': '&#8233;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"'`\u2028\u2029]/g, (ch) => HTML_ESCAPES[ch]);
}

/**
 * JSON that is safe inside a <script> element and inside a JavaScript string context: `<`, `>`
 * and `&` become \u escapes (so `</script>` and `<!--` cannot end or confuse the element), and
 * U+2028/U+2029 are escaped because older JavaScript parsers treat them as line ends.
 * NaN and ±Infinity, which JSON cannot hold, become null.
 */
export function jsonForScript(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  return (json ?? 'null').replace(/[<>&\u2028\u2029]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Plain JSON with NaN/±Infinity as null (for the application/vnd.plotly.v1+json MIME type). */
export function toJsonValue<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T;
}

/**
 * Text for plotly titles, labels, menus and hover templates. Plotly reads a few tags (<b>, <br>, …)
 * and decodes only some named entities (&amp; &lt; &gt; but not &quot;), so quotes and line
 * separators use numeric references and `%{` is broken up so user text is never a hover template.
 */
export function plotlyText(text: string): string {
  return String(text).replace(/[&<>"'`\u2028\u2029]|%\{/g, (ch) => {
    if (ch === '&') return '&amp;';
    if (ch === '<') return '&lt;';
    if (ch === '>') return '&gt;';
    if (ch === '%{') return '&#37;{';
    return `&#${ch.charCodeAt(0)};`;
  });
}
