// The explanation overlay's rules, free of React: the colour scale, and the heat map's grid
// (over the model's square input) mapped onto the photo.

import type { Box, Explanation, PhotoResult } from './api';

/** Raises the score (covering the part lowers it): orange. Lowers it: blue. A diverging pair
 * that stays apart for the common colour-vision deficiencies. */
export const RAISES_RGB: readonly [number, number, number] = [230, 97, 1];
export const LOWERS_RGB: readonly [number, number, number] = [33, 102, 172];
/** The strongest cell stays this see-through, so the face under it still shows. */
export const MAX_ALPHA = 0.6;
/** The smallest full-colour scale, in score points: effects below it are noise, not shown loud. */
export const MIN_SCALE = 0.1;

/** An explanation the page can draw: a square grid of finite numbers and named regions. */
export function isExplanation(value: unknown): value is Explanation {
  if (!value || typeof value !== 'object') return false;
  const e = value as Partial<Explanation>;
  const grid = e.grid;
  if (typeof grid !== 'number' || !Number.isInteger(grid) || grid < 1 || grid > 64) return false;
  if (!Array.isArray(e.heatmap) || e.heatmap.length !== grid) return false;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!e.heatmap.every((row) => Array.isArray(row) && row.length === grid && row.every(finite))) return false;
  return Array.isArray(e.regions) && e.regions.every((r) => r && typeof r.name === 'string' && finite(r.delta));
}

/** The score points that get full colour: the largest |value|, rounded up to 0.1, at least MIN_SCALE. */
export function colourScale(values: readonly number[]): number {
  const largest = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // The small epsilon keeps 0.3 (0.30000000000000004 after arithmetic) at 0.3.
  return Math.max(MIN_SCALE, Math.ceil(largest * 10 - 1e-9) / 10);
}

/** A cell's colour: the hue says the sign, the opacity how large |value| is against `scale`. */
export function cellColour(value: number, scale: number): string {
  const t = scale > 0 ? Math.max(-1, Math.min(1, value / scale)) : 0;
  const [r, g, b] = t >= 0 ? RAISES_RGB : LOWERS_RGB;
  const alpha = Math.round(Math.abs(t) * MAX_ALPHA * 1000) / 1000;
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export interface Cell {
  row: number;
  col: number;
  value: number;
  /** Place over the photo in percent of its size (the part of the cell on the photo). */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The heat map's cells on the photo. The model saw `region` clipped to the photo and padded to a
 * centred square (the service's square crop), so the grid covers that square; cells (or their
 * parts) on the padding are not on the photo and are left out. */
export function gridCells(explanation: Explanation, region: Box, [width, height]: readonly [number, number]): Cell[] {
  if (!(width > 0) || !(height > 0) || !isExplanation(explanation)) return [];
  const left = Math.max(0, region[0]);
  const top = Math.max(0, region[1]);
  const w = Math.min(width, region[2]) - left;
  const h = Math.min(height, region[3]) - top;
  if (!(w > 0) || !(h > 0)) return [];
  const side = Math.max(w, h);
  const x0 = left - (side - w) / 2;
  const y0 = top - (side - h) / 2;
  const step = side / explanation.grid;
  const cells: Cell[] = [];
  explanation.heatmap.forEach((values, row) =>
    values.forEach((value, col) => {
      const x1 = Math.max(left, x0 + col * step);
      const x2 = Math.min(left + w, x0 + (col + 1) * step);
      const y1 = Math.max(top, y0 + row * step);
      const y2 = Math.min(top + h, y0 + (row + 1) * step);
      if (x2 - x1 < 1e-6 || y2 - y1 < 1e-6) return;
      cells.push({
        row,
        col,
        value,
        left: (x1 / width) * 100,
        top: (y1 / height) * 100,
        width: ((x2 - x1) / width) * 100,
        height: ((y2 - y1) / height) * 100,
      });
    }),
  );
  return cells;
}

/** A score change with its sign: "+0.42", "−0.05" (a true minus), "0.00". */
export function signedPoints(value: number): string {
  const text = Math.abs(value).toFixed(2);
  if (text === '0.00') return text;
  return `${value > 0 ? '+' : '\u2212'}${text}`;
}

export interface Target {
  /** The shown face or photo has a score, so it can be explained. */
  scored: boolean;
  explanation: Explanation | null;
  region: Box | null;
  /** The answer was asked with explain=true but carries no explanation for it. */
  none: boolean;
}

/** What Explain is about on a card: the chosen face when every face is listed (nothing while none
 * is chosen), else the photo's scored person. */
export function explainTarget(result: PhotoResult | undefined, chosen: number | null): Target {
  const faces = result?.faces ?? [];
  const target = faces.length ? (chosen !== null ? faces[chosen] : undefined) : result;
  const explanation = target && isExplanation(target.explanation) ? target.explanation : null;
  return {
    scored: Boolean(target && target.score !== null),
    explanation,
    region: target?.region ?? null,
    none: Boolean(result?.explained) && !explanation,
  };
}
