// The score as a 0–10 bar with the number on it (role="meter").

import { fill } from '../i18n';
import { useMessages } from '../messages';

export function ScoreBar({ score }: { score: number }) {
  const { m } = useMessages();
  const clamped = Math.min(10, Math.max(0, score));
  return (
    <div
      className="score"
      role="meter"
      aria-label={m.score}
      aria-valuemin={0}
      aria-valuemax={10}
      aria-valuenow={clamped}
      aria-valuetext={fill(m.scoreOf, { score: clamped.toFixed(1) })}
    >
      <div className="score-fill" style={{ width: `${clamped * 10}%` }} />
      <span className="score-number" style={{ left: `clamp(1.6em, ${clamped * 10}%, calc(100% - 1.6em))` }}>
        {clamped.toFixed(1)}
      </span>
    </div>
  );
}
