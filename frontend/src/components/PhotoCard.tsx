// One photo: the preview with its person box, a remove button, and its score or its error.

import { useState, type CSSProperties } from 'react';
import { fill, photoErrorMessage } from '../i18n';
import { useMessages } from '../messages';
import type { Photo } from '../photos';
import { AdviceList } from './AdviceList';
import { FaceBoxes } from './FaceBoxes';
import { FaceDetails } from './FaceDetails';
import { PersonBox, servedSize } from './PersonBox';
import { ScoreBar } from './ScoreBar';

export interface PhotoCardProps {
  photo: Photo;
  /** 1-based place in the gallery, as the page names the photo. */
  position: number;
  scoring: boolean;
  onRemove: (id: number) => void;
}

export function PhotoCard({ photo, position, scoring, onRemove }: PhotoCardProps) {
  const { m } = useMessages();
  const ratio = photo.width && photo.height ? photo.width / photo.height : 1;
  const preparing = photo.status === 'preparing';
  const result = photo.result;
  const faces = result?.faces ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const detailsId = `face-details-${photo.id}`;
  return (
    <li className={faces.length > 1 ? 'card every-face' : 'card'} data-testid="photo-card" aria-busy={preparing || scoring}>
      <div className="frame">
        <div className="inner" style={{ '--ar': ratio } as CSSProperties}>
          {photo.url ? <img src={photo.url} alt={fill(m.photoAlt, { n: position, name: photo.name })} /> : null}
          {photo.original ? <p className="no-preview">{m.noPreview}</p> : null}
          {result && photo.url && !faces.length ? <PersonBox result={result} photo={photo} /> : null}
          {result && photo.url && faces.length ? (
            <FaceBoxes faces={faces} size={servedSize(result, photo)} chosen={chosen} onChoose={setChosen} detailsId={detailsId} />
          ) : null}
        </div>
        {preparing || scoring ? (
          <div className="overlay" role="status">
            <span className="spinner" aria-hidden="true" />
            {preparing ? m.preparing : m.scoring}
          </div>
        ) : null}
      </div>
      <button type="button" className="remove" aria-label={fill(m.remove, { n: position })} onClick={() => onRemove(photo.id)}>
        <span aria-hidden="true">×</span>
      </button>
      <div className="card-body">
        <p className="file-name" title={photo.name}>
          {photo.name}
        </p>
        {photo.status === 'failed' ? <p className="photo-error">{m.decodeFailed}</p> : null}
        {result && result.score !== null ? (
          <>
            <ScoreBar score={result.score} />
            <p className="percentile">
              {result.percentile !== null ? fill(m.percentile, { p: Math.round(result.percentile) }) : null}
              {result.uncertainty !== null ? (
                <span className="uncertainty"> ({fill(m.uncertainty, { value: result.uncertainty.toFixed(1) })})</span>
              ) : null}
            </p>
            <AdviceList quality={result.quality} />
          </>
        ) : null}
        {result && result.error && !(faces.length && result.error.code === 'several_faces') ? (
          <p className="photo-error" data-testid="photo-error" data-code={result.error.code}>
            {photoErrorMessage(m, result.error.code, result.error.message)}
          </p>
        ) : null}
        {faces.length ? <FaceDetails faces={faces} chosen={chosen} id={detailsId} /> : null}
      </div>
    </li>
  );
}
