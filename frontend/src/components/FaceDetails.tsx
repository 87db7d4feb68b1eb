// The chosen face's score, percentile, uncertainty and advice, or its error in words.

import type { FaceResult } from '../api';
import { fill, photoErrorMessage } from '../i18n';
import { useMessages } from '../messages';
import { AdviceList } from './AdviceList';

export function FaceDetails({ faces, chosen, id }: { faces: readonly FaceResult[]; chosen: number | null; id: string }) {
  const { m } = useMessages();
  const face = chosen !== null ? faces[chosen] : undefined;
  return (
    <div id={id} className="face-details" aria-live="polite" data-testid="face-details">
      {!face ? (
        <p className="hint">{m.faceHint}</p>
      ) : (
        <>
          <p className="face-title">
            {fill(m.faceTitle, { n: (chosen ?? 0) + 1 })}
            {face.score !== null ? `: ${fill(m.scoreOf, { score: face.score.toFixed(1) })}` : null}
            {face.uncertainty !== null ? ` (${fill(m.uncertainty, { value: face.uncertainty.toFixed(1) })})` : null}
          </p>
          {face.percentile !== null ? <p className="percentile">{fill(m.percentile, { p: Math.round(face.percentile) })}</p> : null}
          {face.error ? (
            <p className="photo-error" data-code={face.error.code}>
              {photoErrorMessage(m, face.error.code, face.error.message)}
            </p>
          ) : null}
          <AdviceList quality={face.quality} />
        </>
      )}
    </div>
  );
}
