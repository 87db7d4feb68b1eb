// The heat map over the photo: each grid cell coloured by how much covering it moves the score.

import type { Box, Explanation } from '../api';
import { cellColour, colourScale, gridCells } from '../explain';
import { useMessages } from '../messages';

export interface ExplainOverlayProps {
  explanation: Explanation;
  /** The part of the photo the model scored, in the served image's pixels. */
  region: Box;
  size: [number, number];
}

export function ExplainOverlay({ explanation, region, size }: ExplainOverlayProps) {
  const { m } = useMessages();
  const cells = gridCells(explanation, region, size);
  if (!cells.length) return null;
  const scale = colourScale(cells.map((cell) => cell.value));
  return (
    <div className="explain-overlay" role="img" aria-label={m.explain.overlay} data-testid="explain-overlay">
      {cells.map((cell) => (
        <span
          key={`${cell.row}-${cell.col}`}
          className="heat-cell"
          data-testid="heat-cell"
          data-value={cell.value}
          style={{
            left: `${cell.left}%`,
            top: `${cell.top}%`,
            width: `${cell.width}%`,
            height: `${cell.height}%`,
            backgroundColor: cellColour(cell.value, scale),
          }}
        />
      ))}
    </div>
  );
}
