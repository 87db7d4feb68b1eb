// Runtime settings read from config.json at start (not baked into the bundle).

export interface Settings {
  /** Where the API lives; '' means the page's own origin. Never ends with '/'. */
  apiBaseUrl: string;
  /** How many photos one request may carry. */
  maxFiles: number;
  /** Yandex Metrika counter id; null switches analytics off. */
  analyticsId: string | null;
}

export const DEFAULT_SETTINGS: Settings = { apiBaseUrl: '', maxFiles: 4, analyticsId: null };

export const MAX_FILES_CEILING = 20;

export interface LoadedSettings {
  settings: Settings;
  /** Set when config.json could not be used; the page then runs on the defaults. */
  problem: string | null;
}

/** Check the parsed config.json and fill in defaults; a bad field falls back, with a reason. */
export function parseSettings(raw: unknown): LoadedSettings {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { settings: { ...DEFAULT_SETTINGS }, problem: 'config.json is not a JSON object' };
  }
  const data = raw as Record<string, unknown>;
  const settings: Settings = { ...DEFAULT_SETTINGS };
  const problems: string[] = [];

  if (data.apiBaseUrl !== undefined && data.apiBaseUrl !== null) {
    if (typeof data.apiBaseUrl === 'string') {
      settings.apiBaseUrl = data.apiBaseUrl.trim().replace(/\/+$/, '');
    } else {
      problems.push('apiBaseUrl must be a string');
    }
  }
  if (data.maxFiles !== undefined && data.maxFiles !== null) {
    const value = data.maxFiles;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_FILES_CEILING) {
      settings.maxFiles = value;
    } else {
      problems.push(`maxFiles must be a whole number from 1 to ${MAX_FILES_CEILING}`);
    }
  }
  if (data.analyticsId !== undefined && data.analyticsId !== null && data.analyticsId !== '') {
    const value = data.analyticsId;
    if ((typeof value === 'string' && /^\d+$/.test(value.trim())) || (typeof value === 'number' && Number.isInteger(value) && value > 0)) {
      settings.analyticsId = String(value).trim();
    } else {
      problems.push('analyticsId must be a counter number or null');
    }
  }
  return { settings, problem: problems.length ? `config.json: ${problems.join('; ')}` : null };
}

/** Fetch and parse config.json next to the page; on any failure run on the defaults. */
export async function loadSettings(
  url = 'config.json',
  fetchImpl: typeof fetch = fetch,
): Promise<LoadedSettings> {
  try {
    const response = await fetchImpl(url, { cache: 'no-store' });
    if (!response.ok) {
      return { settings: { ...DEFAULT_SETTINGS }, problem: `config.json answered HTTP ${response.status}` };
    }
    return parseSettings(await response.json());
  } catch {
    return { settings: { ...DEFAULT_SETTINGS }, problem: 'config.json could not be read' };
  }
}
