// The photos on the page: a reducer over the gallery, each added photo compressed for upload, and
// the one place where preview object URLs are freed.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { PhotoResult } from '../api';
import { compressImage, type CanvasApi } from '../compress';
import { fill } from '../i18n';
import type { Localized } from '../messages';
import { selectFiles, sendAsOriginal, type Photo, type Selection } from '../photos';

export interface Gallery {
  photos: readonly Photo[];
  /** The id the next photo gets; ids are never reused, so a request key names one set of photos. */
  nextId: number;
}

export const EMPTY_GALLERY: Gallery = { photos: [], nextId: 1 };

export type GalleryAction =
  | { type: 'add'; names: readonly string[] }
  | { type: 'ready'; id: number; blob: Blob; url: string; width: number; height: number }
  | { type: 'original'; id: number; blob: Blob }
  | { type: 'failed'; id: number }
  | { type: 'remove'; id: number }
  | { type: 'clear' }
  | { type: 'results'; byId: ReadonlyMap<number, PhotoResult> }
  | { type: 'forgetResults' };

function patch(gallery: Gallery, id: number, change: Partial<Photo>): Gallery {
  if (!gallery.photos.some((photo) => photo.id === id)) return gallery;
  return { ...gallery, photos: gallery.photos.map((photo) => (photo.id === id ? { ...photo, ...change } : photo)) };
}

export function galleryReducer(gallery: Gallery, action: GalleryAction): Gallery {
  switch (action.type) {
    case 'add': {
      const added = action.names.map((name, i): Photo => ({ id: gallery.nextId + i, name, status: 'preparing' }));
      return { photos: [...gallery.photos, ...added], nextId: gallery.nextId + added.length };
    }
    case 'ready': {
      const { blob, url, width, height } = action;
      return patch(gallery, action.id, { status: 'ready', blob, url, width, height });
    }
    case 'original':
      return patch(gallery, action.id, { status: 'ready', blob: action.blob, original: true });
    case 'failed':
      return patch(gallery, action.id, { status: 'failed' });
    case 'remove':
      return { ...gallery, photos: gallery.photos.filter((photo) => photo.id !== action.id) };
    case 'clear':
      return gallery.photos.length ? { ...gallery, photos: [] } : gallery;
    case 'results':
      return {
        ...gallery,
        photos: gallery.photos.map((photo) => (action.byId.has(photo.id) ? { ...photo, result: action.byId.get(photo.id) } : photo)),
      };
    case 'forgetResults':
      return { ...gallery, photos: gallery.photos.map((photo) => (photo.result ? { ...photo, result: undefined } : photo)) };
  }
}

function previews(gallery: Gallery): string[] {
  return gallery.photos.flatMap((photo) => (photo.url ? [photo.url] : []));
}

/** The preview URLs a change lets go: held before it (or brought by it) and not held after it. */
export function releasedPreviews(before: Gallery, action: GalleryAction, after: Gallery): string[] {
  const kept = new Set(previews(after));
  const offered = action.type === 'ready' ? [action.url] : [];
  return [...new Set([...previews(before), ...offered])].filter((url) => !kept.has(url));
}

/** The error line for files that were not added (too many, not images), or null when all were. */
export function refusal(selection: Selection<{ name: string }>, maxFiles: number): Localized | null {
  const lines: Localized[] = [];
  if (selection.skipped > 0) lines.push((m) => fill(m.tooMany, { max: maxFiles, skipped: selection.skipped }));
  for (const file of selection.notImages) lines.push((m) => fill(m.notImage, { name: file.name }));
  return lines.length ? (m) => lines.map((line) => line(m)).join(' ') : null;
}

export interface GalleryOptions {
  /** Browser image APIs (tests pass a stub: jsdom has no canvas). */
  canvasApi: CanvasApi;
  maxFiles: number;
  /** Where refused files are reported; a remove or clear dismisses the report. */
  showError: (error: Localized | null) => void;
}

export interface UseGallery {
  photos: readonly Photo[];
  /** The photos as of the last change, read synchronously (for a send started in the same tick). */
  current: () => readonly Photo[];
  add: (files: File[]) => void;
  remove: (id: number) => void;
  clear: () => void;
  setResults: (byId: ReadonlyMap<number, PhotoResult>) => void;
  forgetResults: () => void;
}

export function useGallery({ canvasApi, maxFiles, showError }: GalleryOptions): UseGallery {
  const [gallery, setGallery] = useState(EMPTY_GALLERY);
  // React's dispatch does not return the next state, and two drops in one tick must not both fit:
  // the reducer runs here, its result is kept in a ref at once and handed to React.
  const galleryRef = useRef(EMPTY_GALLERY);

  const apply = useCallback((action: GalleryAction) => {
    const before = galleryRef.current;
    const after = galleryReducer(before, action);
    // The one place previews are freed: removed, cleared, replaced, or ready for a photo already gone.
    for (const url of releasedPreviews(before, action, after)) URL.revokeObjectURL(url);
    if (after !== before) {
      galleryRef.current = after;
      setGallery(after);
    }
  }, []);

  // Leaving the page frees every preview; a photo that finishes compressing later finds no card and
  // has its preview freed by the same rule.
  useEffect(() => () => apply({ type: 'clear' }), [apply]);

  const add = useCallback(
    (files: File[]) => {
      if (!files.length) return;
      const selection = selectFiles(files, galleryRef.current.photos.length, maxFiles);
      showError(refusal(selection, maxFiles));
      if (!selection.accepted.length) return;
      const firstId = galleryRef.current.nextId;
      apply({ type: 'add', names: selection.accepted.map((file) => file.name) });
      selection.accepted.forEach((file, i) => {
        const id = firstId + i;
        compressImage(file, {}, canvasApi).then(
          ({ blob, width, height }) => apply({ type: 'ready', id, blob, url: URL.createObjectURL(blob), width, height }),
          // Chrome cannot decode HEIC, the service can: such a photo is sent as it is, without a preview.
          () => apply(sendAsOriginal(file) ? { type: 'original', id, blob: file } : { type: 'failed', id }),
        );
      });
    },
    [apply, canvasApi, maxFiles, showError],
  );

  const remove = useCallback(
    (id: number) => {
      apply({ type: 'remove', id });
      showError(null);
    },
    [apply, showError],
  );

  const clear = useCallback(() => {
    apply({ type: 'clear' });
    showError(null);
  }, [apply, showError]);

  const current = useCallback(() => galleryRef.current.photos, []);
  const setResults = useCallback((byId: ReadonlyMap<number, PhotoResult>) => apply({ type: 'results', byId }), [apply]);
  const forgetResults = useCallback(() => apply({ type: 'forgetResults' }), [apply]);

  return { photos: gallery.photos, current, add, remove, clear, setResults, forgetResults };
}
