// Every face's box with a score chip over the photo; the chosen face (hover, tap, focus) is highlighted.

import type { FaceResult } from '../api';
import { fill } from '../i18n';
import { useMessages } from '../messages';
import { boxStyle } from './PersonBox';

export interface FaceBoxesProps {
  faces: readonly FaceResult[];
  size: [number, number];
  chosen: number | null;
  onChoose: (index: number) => void;
  /** The id of the details panel the chips control. */
  detailsId: string;
}

export function FaceBoxes({ faces, size, chosen, onChoose, detailsId }: FaceBoxesProps) {
  const { m } = useMessages();
  return (
    <>
      {faces.map((face, i) => {
        const style = boxStyle(face.box, size);
        if (!style) return null;
        // The chip sits above the box; it moves below a box at the photo's top edge and to the
        // box's right edge in the photo's right half, so the card never clips it.
        const place = `${face.box[1] < size[1] * 0.15 ? ' below' : ''}${face.box[0] > size[0] / 2 ? ' end' : ''}`;
        const label =
          face.score !== null
            ? fill(m.faceChip, { n: i + 1, score: face.score.toFixed(1) })
            : fill(m.faceChipError, { n: i + 1 });
        return (
          <div
            key={i}
            className={`face-box${chosen === i ? ' chosen' : ''}${face.error ? ' failed' : ''}${place}`}
            style={style}
            data-testid="face-box"
          >
            <button
              type="button"
              className="face-chip"
              data-testid="face-chip"
              aria-label={label}
              aria-pressed={chosen === i}
              aria-controls={detailsId}
              onMouseEnter={() => onChoose(i)}
              onFocus={() => onChoose(i)}
              onClick={() => onChoose(i)}
            >
              {face.score !== null ? face.score.toFixed(1) : '!'}
            </button>
          </div>
        );
      })}
    </>
  );
}
