// Optional Yandex Metrika counter: nothing is loaded unless config.json sets analyticsId.

type Ym = ((...args: unknown[]) => void) & { a?: unknown[][]; l?: number };

declare global {
  interface Window {
    ym?: Ym;
  }
}

export const METRIKA_SRC = 'https://mc.yandex.ru/metrika/tag.js';

/** Start the counter with this id; returns false (and touches nothing) when the id is null. */
export function startAnalytics(analyticsId: string | null, doc: Document = document): boolean {
  if (!analyticsId) return false;
  if (doc.querySelector(`script[src="${METRIKA_SRC}"]`)) return true;
  const win = doc.defaultView as Window;
  // The counter's own queue stub, so calls made before the script loads are not lost.
  const ym: Ym = (...args: unknown[]) => {
    (ym.a = ym.a ?? []).push(args);
  };
  ym.l = Date.now();
  win.ym = win.ym ?? ym;
  const script = doc.createElement('script');
  script.async = true;
  script.src = METRIKA_SRC;
  doc.head.appendChild(script);
  win.ym(Number(analyticsId), 'init', { clickmap: false, trackLinks: true, accurateTrackBounce: true });
  return true;
}
