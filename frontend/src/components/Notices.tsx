// The page's messages: the one error line (an always-present alert region) and the lasting notes.

import { useMessages } from '../messages';

export function Notices() {
  const { m, error, info } = useMessages();
  return (
    <div className="messages">
      <div role="alert" className={error ? 'alert error' : 'alert'} data-testid="error">
        {error ? error(m) : null}
      </div>
      {info.map((note, i) => (
        <p key={i} className="alert info" role="status">
          {note(m)}
        </p>
      ))}
    </div>
  );
}
