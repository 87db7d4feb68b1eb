// The state behind the messages context: the language (remembered, set on <html>) and the notices.

import { useCallback, useEffect, useState } from 'react';
import { MESSAGES, detectLang, saveLang, type Lang } from '../i18n';
import type { Localized, MessagesValue } from '../messages';

export function useMessageState(initialLang?: Lang): MessagesValue {
  const [lang, setLang] = useState<Lang>(() => initialLang ?? detectLang());
  const [error, setError] = useState<Localized | null>(null);
  const [info, setInfo] = useState<readonly Localized[]>([]);
  const m = MESSAGES[lang];

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = `${m.title} — ${m.tagline.split('?')[0]}?`;
  }, [lang, m]);

  const chooseLang = useCallback((value: Lang) => {
    setLang(value);
    saveLang(value);
  }, []);
  // A setter called with a function would treat the notice as an updater: wrap it.
  const showError = useCallback((value: Localized | null) => setError(() => value), []);
  const addInfo = useCallback((note: Localized) => setInfo((old) => [...old, note]), []);

  // Not memoized: App re-renders every consumer whenever this changes anyway.
  return { lang, m, chooseLang, error, info, showError, addInfo };
}
