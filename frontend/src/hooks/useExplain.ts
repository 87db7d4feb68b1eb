// "Explain": one photo sent again with explain=true, asked the way its shown answer was asked
// (faces=all when it lists every face), and the explained answer put in place of the shown one.

import { useCallback, useRef, useState } from 'react';
import { ratePhotos, type Gender } from '../api';
import type { Settings } from '../config';
import { requestErrorMessage } from '../i18n';
import type { Localized } from '../messages';
import type { UseGallery } from './useGallery';
import { uploadName } from './useRating';

export interface ExplainOptions {
  settings: Settings | null;
  gender: Gender | null;
  gallery: Pick<UseGallery, 'current' | 'setResults'>;
  showError: (error: Localized | null) => void;
}

export interface UseExplain {
  /** The photos whose explanation is being asked for. */
  explaining: ReadonlySet<number>;
  explain: (id: number) => Promise<void>;
}

export function useExplain({ settings, gender, gallery, showError }: ExplainOptions): UseExplain {
  const [explaining, setExplaining] = useState<ReadonlySet<number>>(new Set());
  // One request per photo at a time, whatever the button's state says.
  const running = useRef(new Set<number>());
  const { current, setResults } = gallery;

  const mark = useCallback((id: number, on: boolean) => {
    if (on) running.current.add(id);
    else running.current.delete(id);
    setExplaining(new Set(running.current));
  }, []);

  const explain = useCallback(
    async (id: number) => {
      const photo = current().find((p) => p.id === id);
      const asked = photo?.result;
      if (!settings || !gender || !photo?.blob || !asked || running.current.has(id)) return;
      mark(id, true);
      showError(null);
      try {
        const upload = { blob: photo.blob, name: uploadName(photo, current().indexOf(photo) + 1) };
        const options = { everyFace: Array.isArray(asked.faces), explain: true };
        const response = await ratePhotos(settings.apiBaseUrl, [upload], gender, fetch, undefined, options);
        const result = response.results[0];
        // Only onto the answer it explains: a photo removed, or re-rated (gender, switch) meanwhile, keeps its own.
        if (!result || current().find((p) => p.id === id)?.result !== asked) return;
        setResults(new Map([[id, { ...result, index: asked.index, explained: true }]]));
      } catch (failure) {
        showError((m) => requestErrorMessage(m, failure));
      } finally {
        mark(id, false);
      }
    },
    [settings, gender, current, setResults, showError, mark],
  );

  return { explaining, explain };
}
