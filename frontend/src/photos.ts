// The page's rules, kept free of React so they are tested directly: what may be added, when Send works.

import type { Gender, PhotoResult } from './api';

export type PhotoStatus = 'preparing' | 'ready' | 'failed';

export interface Photo {
  id: number;
  name: string;
  status: PhotoStatus;
  /** The compressed JPEG that is sent, and an object URL of it for display. */
  blob?: Blob;
  url?: string;
  width?: number;
  height?: number;
  result?: PhotoResult;
  /** The original file is sent as it is (a HEIC photo this browser cannot decode). */
  original?: boolean;
}

const IMAGE_EXTENSION = /\.(jpe?g|png|webp|gif|bmp|tiff?|heic|heif|avif)$/i;

const HEIF = /\.(heic|heif)$/i;
/** The service decodes HEIC/HEIF itself; beyond this size the original is not worth sending. */
export const MAX_ORIGINAL_BYTES = 12 * 1024 * 1024;

/** A photo the browser could not decode that the service still can: send it unchanged. */
export function sendAsOriginal(file: { name: string; type: string; size: number }): boolean {
  const heif = /^image\/hei[cf]/i.test(file.type) || HEIF.test(file.name);
  return heif && file.size > 0 && file.size <= MAX_ORIGINAL_BYTES;
}

export function isImageFile(file: { name: string; type: string }): boolean {
  return file.type.startsWith('image/') || (!file.type && IMAGE_EXTENSION.test(file.name));
}

export interface Selection<F> {
  accepted: F[];
  notImages: F[];
  /** Images left out because the gallery would hold more than maxFiles. */
  skipped: number;
}

/** Which of the picked files join the gallery: images only, and only up to maxFiles in all. */
export function selectFiles<F extends { name: string; type: string }>(
  files: readonly F[],
  alreadyAdded: number,
  maxFiles: number,
): Selection<F> {
  const images = files.filter(isImageFile);
  const notImages = files.filter((file) => !isImageFile(file));
  const room = Math.max(0, maxFiles - alreadyAdded);
  return { accepted: images.slice(0, room), notImages, skipped: Math.max(0, images.length - room) };
}

/** What a send would carry; Send stays off while it equals what was sent last. */
export function requestKey(photos: readonly Photo[], gender: Gender | null): string {
  const ids = photos.filter((photo) => photo.status === 'ready').map((photo) => photo.id);
  return `${gender ?? '-'}:${ids.join(',')}`;
}

export type SendBlock = 'photos' | 'gender' | 'busy' | 'same' | null;

/** Why Send is disabled right now, or null when it may be pressed. */
export function sendBlock(state: {
  photos: readonly Photo[];
  gender: Gender | null;
  sending: boolean;
  lastSentKey: string | null;
}): SendBlock {
  if (state.sending) return 'busy';
  if (state.photos.length === 0) return 'photos';
  if (!state.gender) return 'gender';
  if (state.photos.some((photo) => photo.status === 'preparing')) return 'busy';
  if (!state.photos.some((photo) => photo.status === 'ready')) return 'photos';
  if (requestKey(state.photos, state.gender) === state.lastSentKey) return 'same';
  return null;
}
