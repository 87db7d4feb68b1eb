// M / W as radio buttons in a fieldset.

import type { Gender } from '../api';
import { useMessages } from '../messages';

export function GenderPicker({ gender, onChoose }: { gender: Gender | null; onChoose: (gender: Gender) => void }) {
  const { m } = useMessages();
  return (
    <fieldset className="gender">
      <legend>{m.gender}</legend>
      {(['m', 'w'] as const).map((value) => (
        <label key={value} className="radio">
          <input type="radio" name="gender" value={value} checked={gender === value} onChange={() => onChoose(value)} />
          <span>{value === 'm' ? m.man : m.woman}</span>
        </label>
      ))}
    </fieldset>
  );
}
