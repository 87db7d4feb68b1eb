// Test helpers: a stand-in for the browser's canvas (jsdom has none) and a routed fetch stub.
import { vi } from 'vitest';
import type { CanvasApi } from './compress';

export interface CanvasCalls {
  canvases: { width: number; height: number }[];
  draws: { width: number; height: number }[];
  encodes: { type: string | undefined; quality: number | undefined }[];
  closed: number;
}

/** Only the browser API is stubbed: decoding reports `size`, encoding yields a small JPEG blob. */
export function stubCanvas(size: { width: number; height: number } | ((file: Blob) => { width: number; height: number }), fail = false) {
  const calls: CanvasCalls = { canvases: [], draws: [], encodes: [], closed: 0 };
  const api: CanvasApi = {
    async decode(file) {
      if (fail) throw new Error('cannot decode');
      const s = typeof size === 'function' ? size(file) : size;
      return { source: {} as CanvasImageSource, width: s.width, height: s.height, close: () => void (calls.closed += 1) };
    },
    createCanvas(width, height) {
      calls.canvases.push({ width, height });
      const context = {
        fillStyle: '',
        imageSmoothingEnabled: false,
        imageSmoothingQuality: 'low',
        fillRect: vi.fn(),
        drawImage: (_source: unknown, _x: number, _y: number, w: number, h: number) => calls.draws.push({ width: w, height: h }),
      };
      return {
        width,
        height,
        getContext: () => context,
        toBlob: (callback: BlobCallback, type?: string, quality?: number) => {
          calls.encodes.push({ type, quality });
          callback(new Blob([new Uint8Array(100)], { type: 'image/jpeg' }));
        },
      } as unknown as HTMLCanvasElement;
    },
  };
  return { api, calls };
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export type Route = (url: string, init?: RequestInit) => Response | Promise<Response>;

/** A fetch stub that answers by the URL's path ending. */
export function routedFetch(routes: Record<string, Route>) {
  return vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    for (const [suffix, route] of Object.entries(routes)) {
      if (url.endsWith(suffix)) return route(url, init);
    }
    return new Response('not found', { status: 404 });
  });
}

export const MODELS = {
  models: [
    { route: 'man', gender: 'm', card: { name: 'demo-man', gender: 'm', demo: true, notes: 'synthetic' } },
    { route: 'woman', gender: 'w', card: { name: 'demo-woman', gender: 'w', demo: true, notes: 'synthetic' } },
  ],
};

export function scored(index: number, score: number) {
  return {
    index,
    score,
    rate: score,
    percentile: 72.5,
    uncertainty: null,
    box: [10, 20, 110, 220],
    image_size: [512, 410],
    error: null,
  };
}

export function failed(index: number, code: string, message: string) {
  return { index, score: null, rate: null, percentile: null, uncertainty: null, box: null, image_size: null, error: { code, message } };
}

export function photoFile(name = 'me.jpg', type = 'image/jpeg'): File {
  return new File([new Uint8Array(64)], name, { type });
}
