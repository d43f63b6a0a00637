const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatTime(date: Date): string {
  return time.format(date);
}

export function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatPercent(value: number): string {
  return `${Math.round(value)}%`;
}

/**
 * A short, readable rendering of any JSON value (partial results, finding
 * details): a flat object reads as `key: value · key: value`, anything else as JSON.
 */
export function formatJson(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 0 && entries.every(([, v]) => v === null || typeof v !== 'object')) {
      return entries.map(([k, v]) => `${k}: ${String(v)}`).join(' · ');
    }
  }
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/_/g, ' ');
}
