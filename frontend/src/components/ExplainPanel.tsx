// Why this score: the plain note, the legend of the overlay's colours (in score points), and each
// region's effect; the button that asks for it, hides it and shows it again.

import type { Box, Explanation } from '../api';
import { colourScale, gridCells, signedPoints } from '../explain';
import { fill } from '../i18n';
import { useMessages } from '../messages';

export interface ExplainControlsProps {
  /** The explanation of the shown face or photo, once asked for. */
  explanation: Explanation | null;
  region: Box | null;
  size: [number, number];
  shown: boolean;
  busy: boolean;
  /** The answer was asked with explain=true but carries no explanation for this face or photo. */
  none: boolean;
  onAsk: () => void;
  onToggle: () => void;
  /** The id of the panel the button opens. */
  id: string;
}

export function ExplainControls({ explanation, region, size, shown, busy, none, onAsk, onToggle, id }: ExplainControlsProps) {
  const { m } = useMessages();
  const e = m.explain;
  const open = shown && explanation !== null;
  const label = busy ? e.busy : !explanation ? e.ask : shown ? e.hide : e.show;
  return (
    <div className="explain">
      <button
        type="button"
        className="button explain-button"
        data-testid="explain-button"
        disabled={busy}
        aria-expanded={explanation ? shown : undefined}
        aria-controls={open ? id : undefined}
        onClick={explanation ? onToggle : onAsk}
      >
        {busy ? <span className="spinner" aria-hidden="true" /> : null}
        {label}
      </button>
      {none && !busy ? <p className="hint">{e.none}</p> : null}
      {open ? <ExplainPanel explanation={explanation} region={region} size={size} id={id} /> : null}
    </div>
  );
}

function ExplainPanel({ explanation, region, size, id }: { explanation: Explanation; region: Box | null; size: [number, number]; id: string }) {
  const { m } = useMessages();
  // A model with a label map is explained from it, not by covering parts: other words.
  const e = explanation.heatmap_from === 'label_map' ? { ...m.explain, ...m.explain.fromMap } : m.explain;
  const cells = region ? gridCells(explanation, region, size) : [];
  const scale = colourScale(cells.map((cell) => cell.value)).toFixed(1);
  const widest = Math.max(...explanation.regions.map((r) => Math.abs(r.delta)), 1e-9);
  return (
    <section id={id} className="explain-panel" aria-label={e.title} data-testid="explain-panel">
      <p className="explain-note">{e.note}</p>
      {cells.length ? (
        <div className="legend" data-testid="explain-legend">
          <p className="legend-title">{e.legendTitle}</p>
          <div className="legend-bar" aria-hidden="true" />
          <div className="legend-ticks" aria-hidden="true">
            <span>{`\u2212${scale}`}</span>
            <span>0</span>
            <span>{`+${scale}`}</span>
          </div>
          <ul className="legend-keys">
            <li>
              <span className="swatch raises" aria-hidden="true" /> {e.raises}
            </li>
            <li>
              <span className="swatch lowers" aria-hidden="true" /> {e.lowers}
            </li>
          </ul>
          <p className="legend-scale">{fill(e.scale, { max: scale })}</p>
        </div>
      ) : null}
      <p className="regions-title">{e.regionsTitle}</p>
      <ul className="regions" data-testid="explain-regions">
        {explanation.regions.map((region) => (
          <li key={region.name} data-region={region.name}>
            <span className="region-name">{e.regions[region.name] ?? region.name.replace(/_/g, ' ')}</span>
            <span className="region-bar" aria-hidden="true">
              <span
                className={region.delta >= 0 ? 'raises' : 'lowers'}
                style={{ width: `${(Math.abs(region.delta) / widest) * 50}%` }}
              />
            </span>
            <span className="region-value">{signedPoints(region.delta)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
