// Shared pieces of the end-to-end specs: the fixture photos, a face-free PNG, the service URLs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { expect, type Page } from '@playwright/test';
import { fill, type Messages } from '../src/i18n';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const MAN_PNG = path.join(REPO, 'tests', 'fixtures', 'man.png');
export const WOMAN_JPG = path.join(REPO, 'tests', 'fixtures', 'woman.jpg');
/** man.png stored lying on its side (600×500) with EXIF Orientation 6, as phones save photos. */
export const MAN_EXIF_JPG = path.join(here, 'fixtures', 'man-exif-rotated.jpg');
/** tests/support/group.py's group photo (the man, the woman, a smaller and a tiny man) at 1024×384. */
export const GROUP_JPG = path.join(here, 'fixtures', 'group.jpg');

/** A required environment variable: the pytest side (tests/e2e) sets these to live services
 * (PM_CROP_URL: one serving models trained on person crops, which score and explain each face). */
export function requiredEnv(name: 'PM_BASE_URL' | 'PM_SMALL_LIMIT_URL' | 'PM_CROP_URL'): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: start a pretty-meter service and set ${name} to its base URL ` +
        '(tests/e2e/test_page_e2e.py does both)',
    );
  }
  return value.replace(/\/+$/, '');
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A plain diagonal-gradient RGB PNG: a photo with no face on it. */
export function gradientPng(width = 320, height = 240): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const i = row + 1 + x * 3;
      raw[i] = Math.round((255 * x) / (width - 1));
      raw[i + 1] = Math.round((255 * y) / (height - 1));
      raw[i + 2] = 160;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export const NO_FACE = { name: 'gradient.png', mimeType: 'image/png', buffer: gradientPng() };
export const MAN = { name: 'man.png', mimeType: 'image/png', buffer: readFileSync(MAN_PNG) };
export const WOMAN = { name: 'woman.jpg', mimeType: 'image/jpeg', buffer: readFileSync(WOMAN_JPG) };
export const MAN_HEIC = {
  name: 'man.heic',
  mimeType: 'image/heic',
  buffer: readFileSync(path.join(here, 'fixtures', 'man.heic')),
};
export const GROUP = { name: 'group.jpg', mimeType: 'image/jpeg', buffer: readFileSync(GROUP_JPG) };
export const MAN_EXIF = { name: 'phone.jpg', mimeType: 'image/jpeg', buffer: readFileSync(MAN_EXIF_JPG) };

/** Open the page and wait until its settings are loaded (the file input is enabled). */
export async function openPage(page: Page, url = '/'): Promise<void> {
  await page.goto(url);
  await expect(page.getByLabel('Add photos')).toBeEnabled();
}

/** Add photos through the real file input and wait until each is compressed and shown. */
export async function addPhotos(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  const before = await page.getByTestId('photo-card').count();
  await page.getByLabel('Add photos').setInputFiles(files);
  for (const [i, file] of files.entries()) {
    await expect(page.getByAltText(`Photo ${before + i + 1}: ${file.name}`)).toBeVisible();
  }
}

/** The number printed on a score bar, checked to be a score. */
export async function scoreOf(page: Page, index: number): Promise<number> {
  const meter = page.getByTestId('photo-card').nth(index).getByRole('meter');
  await expect(meter).toBeVisible();
  const text = (await meter.textContent())?.trim() ?? '';
  expect(text).toMatch(/^\d{1,2}\.\d$/);
  const score = Number(text);
  expect(score).toBeGreaterThanOrEqual(0);
  expect(score).toBeLessThanOrEqual(10);
  expect(Number(await meter.getAttribute('aria-valuenow'))).toBeCloseTo(score, 5);
  return score;
}

/** Every visible, enabled text on the page whose contrast with its background is below WCAG AA
 * (4.5:1, or 3:1 for large text); each entry says which text and the ratio. */
export async function lowContrastTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (value: string): Rgba => {
      const m = value.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
    };
    const over = (top: Rgba, bottom: Rgba): Rgba => {
      const a = top[3];
      return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
    };
    const background = (element: Element): Rgba => {
      const layers: Rgba[] = [];
      for (let node: Element | null = element; node; node = node.parentElement) {
        const color = parse(getComputedStyle(node).backgroundColor);
        if (color[3] > 0) layers.push(color);
        if (color[3] >= 1) break;
      }
      let result: Rgba = [255, 255, 255, 1];
      for (const layer of layers.reverse()) result = over(layer, result);
      return result;
    };
    const luminance = ([r, g, b]: Rgba) => {
      const channel = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const failures: string[] = [];
    for (const element of Array.from(document.body.querySelectorAll('*'))) {
      const hasText = Array.from(element.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim());
      if (!hasText || element.closest(':disabled') || element.closest('.visually-hidden')) continue;
      const style = getComputedStyle(element);
      const rect = element.getBoundingClientRect();
      if (style.visibility === 'hidden' || rect.width === 0 || rect.height === 0) continue;
      const fg = over(parse(style.color), background(element));
      const bg = background(element);
      const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = Number.parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`"${element.textContent?.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
    }
    return failures;
  });
}

export interface Explained {
  heatmap: number[][];
  regions: { name: string; delta: number }[];
  note: string;
}

/** On a page opened in `lang` (a crop-model service): the group photo rated with every face, the
 * first chip chosen, Explain pressed; the face's explanation as the service sent it. */
export async function explainGroupFace(page: Page, m: Messages): Promise<Explained> {
  await page.getByLabel(m.addPhotos).setInputFiles([GROUP]);
  await expect(page.getByAltText(fill(m.photoAlt, { n: 1, name: GROUP.name }))).toBeVisible();
  await page.getByLabel(m.man).check();
  await page.getByRole('switch', { name: m.everyone }).check();
  await page.getByRole('button', { name: m.send, exact: true }).click();
  const chip = page.getByTestId('face-chip').first();
  await expect(chip).toBeVisible();
  await chip.click();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/rate')),
    page.getByRole('button', { name: m.explain.ask }).click(),
  ]);
  expect(response.status()).toBe(200);
  const answer = (await response.json()) as { results: { faces: { explanation: Explained | null }[] }[] };
  const explanation = answer.results[0].faces[0].explanation;
  expect(explanation).not.toBeNull();
  await expect(page.getByTestId('explain-overlay')).toBeVisible();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  return explanation as Explained;
}
