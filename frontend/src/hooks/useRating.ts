// The gender, the send (one request at a time), the answers put on the photos, and which model answered.

import { useCallback, useMemo, useRef, useState } from 'react';
import { ratePhotos, type Gender, type ModelInfo, type PhotoResult } from '../api';
import type { Settings } from '../config';
import { requestErrorMessage } from '../i18n';
import type { Localized } from '../messages';
import { requestKey, sendBlock, type Photo, type SendBlock } from '../photos';
import type { UseGallery } from './useGallery';

export interface ShownModel {
  name: string;
  demo: boolean;
}

interface Answered extends ShownModel {
  gender: Gender;
}

/** The model named on the page: the one that answered for this gender, else what /v1/models lists for it. */
export function shownModel(answered: Answered | null, models: readonly ModelInfo[] | null, gender: Gender | null): ShownModel | null {
  if (answered && answered.gender === gender) return { name: answered.name, demo: answered.demo };
  if (!models) return null;
  const relevant = gender ? models.filter((model) => model.gender === gender) : models;
  if (!relevant.length) return null;
  return { name: relevant.map((model) => model.name).join(', '), demo: relevant.some((model) => model.demo) };
}

/** The file name a photo is uploaded under: photo-N.jpg, or the original's extension when sent as it is. */
export function uploadName(photo: Photo, position: number): string {
  const extension = photo.original ? (/\.[a-z0-9]+$/i.exec(photo.name)?.[0] ?? '') : '.jpg';
  return `photo-${position}${extension}`;
}

export interface RatingOptions {
  settings: Settings | null;
  models: readonly ModelInfo[] | null;
  gallery: UseGallery;
  showError: (error: Localized | null) => void;
}

export interface UseRating {
  gender: Gender | null;
  chooseGender: (gender: Gender) => void;
  /** Why Rate is disabled now, or null. */
  block: SendBlock;
  sending: boolean;
  /** The photos of the request that is running. */
  inFlight: ReadonlySet<number>;
  send: () => Promise<void>;
  /** Remove every photo and what the last answer said. */
  clearAll: () => void;
  model: ShownModel | null;
  /** "Score everyone on the photo": sends faces=all (off by default). */
  everyone: boolean;
  chooseEveryone: (on: boolean) => void;
}

export function useRating({ settings, models, gallery, showError }: RatingOptions): UseRating {
  const [gender, setGender] = useState<Gender | null>(null);
  const [sending, setSending] = useState(false);
  const [inFlight, setInFlight] = useState<ReadonlySet<number>>(new Set());
  const [lastSentKey, setLastSentKey] = useState<string | null>(null);
  const [answered, setAnswered] = useState<Answered | null>(null);
  const [everyone, setEveryone] = useState(false);
  // Guards the request itself, not only the disabled button: a double click sends once.
  const sendingRef = useRef(false);
  const { photos, current, setResults, forgetResults, clear } = gallery;

  const chooseGender = useCallback(
    (value: Gender) => {
      if (value === gender) return;
      setGender(value);
      // Scores from the other gender's model would be misleading next to the new choice.
      forgetResults();
      setAnswered(null);
    },
    [gender, forgetResults],
  );

  const chooseEveryone = useCallback(
    (on: boolean) => {
      setEveryone(on);
      // The shown answers were asked the other way; clear them so Rate asks again.
      forgetResults();
      setLastSentKey(null);
    },
    [forgetResults],
  );

  const send = useCallback(async () => {
    if (sendingRef.current || !settings || !gender) return;
    const now = current();
    if (sendBlock({ photos: now, gender, sending: false, lastSentKey }) !== null) return;
    sendingRef.current = true;
    const batch = now.filter((photo) => photo.status === 'ready' && photo.blob);
    const key = requestKey(now, gender);
    setSending(true);
    setInFlight(new Set(batch.map((photo) => photo.id)));
    showError(null);
    try {
      const response = await ratePhotos(
        settings.apiBaseUrl,
        batch.map((photo, i) => ({ blob: photo.blob as Blob, name: uploadName(photo, i + 1) })),
        gender,
        fetch,
        undefined,
        { everyFace: everyone },
      );
      const byId = new Map<number, PhotoResult>();
      batch.forEach((photo, i) => {
        const result = response.results.find((r) => r.index === i) ?? response.results[i];
        if (result) byId.set(photo.id, result);
      });
      setResults(byId);
      setLastSentKey(key);
      setAnswered({ name: response.model, demo: response.demo, gender });
    } catch (failure) {
      showError((m) => requestErrorMessage(m, failure));
    } finally {
      sendingRef.current = false;
      setSending(false);
      setInFlight(new Set());
    }
  }, [settings, gender, lastSentKey, current, setResults, showError, everyone]);

  const clearAll = useCallback(() => {
    clear();
    setLastSentKey(null);
    setAnswered(null);
  }, [clear]);

  const model = useMemo(() => shownModel(answered, models, gender), [answered, models, gender]);
  const block = sendBlock({ photos, gender, sending, lastSentKey });

  return { gender, chooseGender, block, sending, inFlight, send, clearAll, model, everyone, chooseEveryone };
}
