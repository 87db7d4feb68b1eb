// The v1 API client: POST /v1/rate (multipart) and GET /v1/models, with failures sorted by kind.

export type Gender = 'm' | 'w';

export interface PhotoError {
  code: string;
  message: string;
}

export interface Advice {
  code: string;
  message: string;
}

/** What in the photo pulls the score down (only `advice` is shown). */
export interface Quality {
  advice: Advice[];
}

export type Box = [number, number, number, number];

/** One region's effect: score(original) − score(region covered), on the 0-10 scale. */
export interface RegionEffect {
  name: string;
  delta: number;
}

/** Why this score (`explain=true`): what the model reacts to, read from its label map or found by
 * covering parts of its input. */
export interface Explanation {
  regions: RegionEffect[];
  /** grid × grid rows, top first, over the model's square input: each cell the effect of covering
   * the face regions under it (`regions`), of covering the cell itself (`occluded_cells`), or the
   * model's score at that spot minus its score for the whole face (`label_map`). */
  heatmap: number[][];
  grid: number;
  heatmap_from?: 'regions' | 'occluded_cells' | 'label_map';
  note: string;
}

/** One face of a `faces=all` answer, in the pixels of the image the service received. */
export interface FaceResult {
  box: Box;
  main: boolean;
  /** The person box this face's crop was cut from (what its explanation's grid covers). */
  region?: Box | null;
  score: number | null;
  percentile: number | null;
  uncertainty: number | null;
  quality: Quality | null;
  error: PhotoError | null;
  explanation?: Explanation | null;
}

export interface PhotoResult {
  index: number;
  score: number | null;
  rate: number | null;
  percentile: number | null;
  uncertainty: number | null;
  box: Box | null;
  /** The part of the photo the model scored (what its explanation's grid covers). */
  region?: Box | null;
  image_size: [number, number] | null;
  error: PhotoError | null;
  quality?: Quality | null;
  /** Every face (only when sent with `faces=all`). */
  faces?: FaceResult[] | null;
  /** Only when sent with `explain=true`. */
  explanation?: Explanation | null;
  /** Set by the page, not the service: this answer was asked with `explain=true`. */
  explained?: boolean;
}

export interface RateResponse {
  model: string;
  demo: boolean;
  results: PhotoResult[];
}

export interface ModelInfo {
  route: string;
  gender: Gender;
  name: string;
  demo: boolean;
  notes: string;
}

export type ApiErrorKind = 'too_large' | 'busy' | 'client' | 'server' | 'network' | 'timeout' | 'bad_answer';

/** A request that failed as a whole; `kind` picks the message the page shows. */
export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number | null = null,
    readonly detail: string | null = null,
    readonly retryAfter: number | null = null,
  ) {
    super(`${kind}${status ? ` ${status}` : ''}${detail ? `: ${detail}` : ''}`);
  }
}

export const REQUEST_TIMEOUT_MS = 60_000;

async function readDetail(response: Response): Promise<string | null> {
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as { detail?: unknown };
      if (typeof body.detail === 'string') return body.detail;
      // FastAPI's 422 carries a list of {loc, msg}; show the first message.
      if (Array.isArray(body.detail) && body.detail.length) {
        const first = body.detail[0] as { msg?: unknown };
        if (typeof first.msg === 'string') return first.msg;
      }
    } catch {
      // not JSON: a proxy's HTML page, for example
    }
    const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
    return plain ? plain.slice(0, 200) : null;
  } catch {
    return null;
  }
}

/** Turn a non-2xx response into an ApiError. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const detail = await readDetail(response);
  const status = response.status;
  if (status === 413) return new ApiError('too_large', status, detail);
  if (status === 429 || status === 503) {
    const header = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
    return new ApiError('busy', status, detail, Number.isFinite(header) ? header : null);
  }
  if (status >= 500) return new ApiError('server', status, detail);
  return new ApiError('client', status, detail);
}

async function request(url: string, init: RequestInit, fetchImpl: typeof fetch, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetchImpl(url, { ...init, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) throw new ApiError('timeout');
    throw new ApiError('network', null, error instanceof Error ? error.message : null);
  } finally {
    clearTimeout(timer);
  }
}

function isResult(value: unknown): value is PhotoResult {
  if (!value || typeof value !== 'object') return false;
  const item = value as Record<string, unknown>;
  return typeof item.index === 'number' && (typeof item.score === 'number' || item.score === null);
}

/** Score photos: one result per photo, in order; per-photo errors are results, not exceptions. */
export async function ratePhotos(
  apiBaseUrl: string,
  photos: { blob: Blob; name: string }[],
  gender: Gender,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = REQUEST_TIMEOUT_MS,
  { everyFace = false, explain = false }: { everyFace?: boolean; explain?: boolean } = {},
): Promise<RateResponse> {
  const form = new FormData();
  for (const photo of photos) form.append('files', photo.blob, photo.name);
  form.append('gender', gender);
  if (everyFace) form.append('faces', 'all');
  if (explain) form.append('explain', 'true');
  const response = await request(`${apiBaseUrl}/v1/rate`, { method: 'POST', body: form }, fetchImpl, timeoutMs);
  if (!response.ok) throw await errorFromResponse(response);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('bad_answer', response.status);
  }
  const data = body as Partial<RateResponse> | null;
  if (!data || !Array.isArray(data.results) || !data.results.every(isResult)) {
    throw new ApiError('bad_answer', response.status);
  }
  return { model: String(data.model ?? ''), demo: Boolean(data.demo), results: data.results };
}

/** The models the service has loaded (name, gender, demo flag) from GET /v1/models. */
export async function fetchModels(
  apiBaseUrl: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = 15_000,
): Promise<ModelInfo[]> {
  const response = await request(`${apiBaseUrl}/v1/models`, { method: 'GET' }, fetchImpl, timeoutMs);
  if (!response.ok) throw await errorFromResponse(response);
  let body: { models?: unknown };
  try {
    body = (await response.json()) as { models?: unknown };
  } catch {
    throw new ApiError('bad_answer', response.status);
  }
  if (!Array.isArray(body.models)) throw new ApiError('bad_answer', response.status);
  return body.models.flatMap((entry: unknown) => {
    const item = entry as { route?: unknown; gender?: unknown; card?: Record<string, unknown> };
    const card = item.card ?? {};
    const gender = item.gender ?? card.gender;
    if (gender !== 'm' && gender !== 'w') return [];
    return [
      {
        route: String(item.route ?? ''),
        gender,
        name: String(card.name ?? item.route ?? ''),
        demo: Boolean(card.demo),
        notes: typeof card.notes === 'string' ? card.notes : '',
      },
    ];
  });
}
