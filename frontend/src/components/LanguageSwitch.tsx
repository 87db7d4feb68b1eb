// English / Русский as a labelled group of pressed-or-not buttons.

import { LANGS, type Lang } from '../i18n';
import { useMessages } from '../messages';

const LANG_NAMES: Record<Lang, string> = { en: 'English', ru: 'Русский' };

export function LanguageSwitch() {
  const { lang, m, chooseLang } = useMessages();
  return (
    <div className="lang-switch" role="group" aria-label={m.language}>
      {LANGS.map((value) => (
        <button key={value} type="button" lang={value} aria-pressed={value === lang} onClick={() => chooseLang(value)}>
          {LANG_NAMES[value]}
        </button>
      ))}
    </div>
  );
}
