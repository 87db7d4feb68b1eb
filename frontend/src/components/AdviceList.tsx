// The advice on a scored photo or face: one line per code, in the chosen language.

import type { Quality } from '../api';
import { adviceMessage } from '../i18n';
import { useMessages } from '../messages';

export function AdviceList({ quality }: { quality: Quality | null | undefined }) {
  const { m } = useMessages();
  const advice = quality?.advice ?? [];
  if (!advice.length) return null;
  return (
    <ul className="advice" aria-label={m.adviceTitle} data-testid="advice">
      {advice.map((item) => (
        <li key={item.code} data-code={item.code}>
          {adviceMessage(m, item.code, item.message)}
        </li>
      ))}
    </ul>
  );
}
