// The page's header: the mark, the title and tagline, and the language switch.

import { useMessages } from '../messages';
import { LanguageSwitch } from './LanguageSwitch';

export function Header() {
  const { m } = useMessages();
  return (
    <header className="header">
      <div className="brand">
        <svg className="mark" viewBox="0 0 48 48" width="40" height="40" aria-hidden="true" focusable="false">
          <path d="M6 34a18 18 0 0 1 36 0" fill="none" stroke="currentColor" strokeWidth="5" strokeLinecap="round" />
          <path d="M24 34 L34 18" stroke="#e4405f" strokeWidth="4" strokeLinecap="round" />
          <circle cx="24" cy="34" r="4" fill="currentColor" />
        </svg>
        <div>
          <h1>{m.title}</h1>
          <p className="tagline">{m.tagline}</p>
        </div>
      </div>
      <LanguageSwitch />
    </header>
  );
}
