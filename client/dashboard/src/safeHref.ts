/**
 * A link from an event (a notification's `link`, a report's `url`) as an
 * href: a single-slash path with no whitespace or backslash (which browsers
 * could read as `//host`), resolved against this page's origin, or an
 * http(s) URL. The server accepts nothing else (shared/fields.ts); anything
 * else that still arrives (`javascript:`, `//host`) gives null: not rendered.
 */
export function safeHref(link: string): string | null {
  if (/^\/(?![/\\])[^\s\\]*$/.test(link)) return link;
  try {
    // Not URL.canParse: older browsers lack it.
    const url = new URL(link);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
