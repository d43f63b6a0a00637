/**
 * Where a client keeps the last event id of each subscription, so a topic
 * opened again (by this client, or after a page reload with `storage`) resumes
 * from there instead of starting over or silently skipping what it missed.
 */

import { isEventId } from '../../shared/eventIdOrder';

/** The part of the Web Storage API the SDK uses; `localStorage` and `sessionStorage` fit. */
export interface ResumeStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const defaultStoragePrefix = 'cidadao-realtime:last-event-id:';

/** The key of one subscription: its procedure and its input without `lastEventId`. */
export function subscriptionKey(path: string, input: Readonly<Record<string, string>> | undefined): string {
  return `${path}:${JSON.stringify(input ?? {})}`;
}

export class ResumeStore {
  private readonly memory = new Map<string, string>();

  constructor(
    private readonly storage: ResumeStorage | undefined,
    private readonly prefix: string = defaultStoragePrefix,
  ) {}

  /** The last id received for `key` by this client, else the stored one. */
  get(key: string): string | undefined {
    const known = this.memory.get(key);
    if (known !== undefined) return known;
    const stored = this.read(key);
    if (stored !== undefined) this.memory.set(key, stored);
    return stored;
  }

  set(key: string, id: string): void {
    if (this.memory.get(key) === id) return;
    this.memory.set(key, id);
    if (!this.storage) return;
    try {
      this.storage.setItem(this.prefix + key, id);
    } catch {
      // A full or unavailable storage (quota, private mode) costs the resume
      // after a reload, never the delivery of the event.
    }
  }

  private read(key: string): string | undefined {
    if (!this.storage) return undefined;
    try {
      const value = this.storage.getItem(this.prefix + key);
      if (value === null) return undefined;
      // A stored value that is not an id would make the server refuse the subscription.
      if (isEventId(value)) return value;
      this.storage.removeItem(this.prefix + key);
    } catch {
      // As above: without storage the topic starts live.
    }
    return undefined;
  }
}
