import { Window } from 'happy-dom';
import type { ReactNode } from 'react';

/**
 * A DOM for React in a Node test, from happy-dom. Only `window`, `document`
 * and (Node 20 has none) `navigator` become globals: vitest's happy-dom
 * environment would also replace Node's URL and more, which the real server
 * started in the same process needs. react-dom looks for a DOM when it
 * loads, so it is imported here, after the globals are set.
 */
const window = new Window({ url: 'http://localhost/' });
Object.assign(globalThis, { window, document: window.document });
if (!('navigator' in globalThis)) Object.assign(globalThis, { navigator: window.navigator });

export interface Mounted {
  /** The element React renders into. */
  readonly container: HTMLElement;
  render(element: ReactNode): void;
  unmount(): void;
}

/** A React root in a fresh element of the page, rendering `element`. */
export async function mount(element: ReactNode): Promise<Mounted> {
  const { createRoot } = await import('react-dom/client');
  // happy-dom's element is a DOM element; its type is happy-dom's own.
  const container = window.document.body.appendChild(window.document.createElement('div')) as unknown as HTMLElement;
  const root = createRoot(container);
  root.render(element);
  return {
    container,
    render: (next) => root.render(next),
    unmount: () => {
      root.unmount();
      container.remove();
    },
  };
}

/** Ends the window's pending work once the tests are done. */
export function closeWindow(): Promise<void> {
  return window.happyDOM.close();
}
