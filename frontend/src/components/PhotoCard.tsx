// One photo: the preview with its person box (or every face's), a remove button, its score or its
// error, and on demand the explanation of the shown face or photo over it.

import { useState, type CSSProperties } from 'react';
import { fill, photoErrorMessage } from '../i18n';
import { useMessages } from '../messages';
import type { Photo } from '../photos';
import { explainTarget } from '../explain';
import { AdviceList } from './AdviceList';
import { ExplainOverlay } from './ExplainOverlay';
import { ExplainControls } from './ExplainPanel';
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
  /** Its explanation is being asked for. */
  explaining: boolean;
  onExplain: (id: number) => void;
}

export function PhotoCard({ photo, position, scoring, onRemove, explaining, onExplain }: PhotoCardProps) {
  const { m } = useMessages();
  const ratio = photo.width && photo.height ? photo.width / photo.height : 1;
  const preparing = photo.status === 'preparing';
  const result = photo.result;
  const faces = result?.faces ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const detailsId = `face-details-${photo.id}`;
  const [explainShown, setExplainShown] = useState(false);
  const { scored, explanation, region, none } = explainTarget(result, chosen);
  const size = result ? servedSize(result, photo) : ([0, 0] as [number, number]);
  const overlay = explainShown && explanation && region && photo.url;
  const explainControls = scored ? (
    <ExplainControls
      {...{ explanation, region, size, none }}
      shown={explainShown}
      busy={explaining}
      onAsk={() => {
        setExplainShown(true);
        onExplain(photo.id);
      }}
      onToggle={() => setExplainShown((on) => !on)}
      id={`explain-${photo.id}`}
    />
  ) : null;
  const wide = faces.length > 1 || (explainShown && explanation !== null);
  return (
    <li
      className={wide ? 'card wide' : 'card'}
      data-testid="photo-card"
      aria-busy={preparing || scoring || explaining}
    >
      <div className="frame">
        <div className="inner" style={{ '--ar': ratio } as CSSProperties}>
          {photo.url ? <img src={photo.url} alt={fill(m.photoAlt, { n: position, name: photo.name })} /> : null}
          {photo.original ? <p className="no-preview">{m.noPreview}</p> : null}
          {overlay ? <ExplainOverlay explanation={explanation} region={region} size={size} /> : null}
          {result && photo.url && !faces.length ? <PersonBox result={result} photo={photo} /> : null}
          {result && photo.url && faces.length ? (
            <FaceBoxes faces={faces} size={size} chosen={chosen} onChoose={setChosen} detailsId={detailsId} />
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
            {!faces.length ? explainControls : null}
          </>
        ) : null}
        {result && result.error && !(faces.length && result.error.code === 'several_faces') ? (
          <p className="photo-error" data-testid="photo-error" data-code={result.error.code}>
            {photoErrorMessage(m, result.error.code, result.error.message)}
          </p>
        ) : null}
        {faces.length ? <FaceDetails faces={faces} chosen={chosen} id={detailsId} /> : null}
        {faces.length ? explainControls : null}
      </div>
    </li>
  );
}
