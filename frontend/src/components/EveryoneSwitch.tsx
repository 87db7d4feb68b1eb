// "Score everyone on the photo": off by default, with the consent note next to it.

import { useMessages } from '../messages';

export function EveryoneSwitch({ on, onChange }: { on: boolean; onChange: (on: boolean) => void }) {
  const { m } = useMessages();
  return (
    <div className="everyone">
      <label className="switch">
        <input
          type="checkbox"
          role="switch"
          checked={on}
          aria-describedby="everyone-note"
          data-testid="everyone-switch"
          onChange={(event) => onChange(event.target.checked)}
        />
        <span>{m.everyone}</span>
      </label>
      <p id="everyone-note" className="hint">
        {m.everyoneNote}
      </p>
    </div>
  );
}
