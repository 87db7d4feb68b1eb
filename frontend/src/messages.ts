// The page's words in one React context: the chosen language's texts, the switch, and the notices.

import { createContext, useContext } from 'react';
import type { Lang, Messages } from './i18n';

/** A line in whatever language is chosen when it is shown (switching the language re-words it). */
export type Localized = (m: Messages) => string;

export interface MessagesValue {
  lang: Lang;
  /** The texts of the chosen language. */
  m: Messages;
  chooseLang: (lang: Lang) => void;
  /** The one error line (the last action's problem), shown in the alert box. */
  error: Localized | null;
  /** Notes that stay for the whole visit (settings file problems, models list unavailable). */
  info: readonly Localized[];
  showError: (error: Localized | null) => void;
  addInfo: (note: Localized) => void;
}

export const MessagesContext = createContext<MessagesValue | null>(null);

/** The page's words; every component below `App` reads them here instead of from a prop. */
export function useMessages(): MessagesValue {
  const value = useContext(MessagesContext);
  if (!value) throw new Error('useMessages() needs the MessagesContext that App provides');
  return value;
}
