// Rate (with a spinner while sending), Clear, and the line saying why Rate is disabled.

import type { Messages } from '../i18n';
import { useMessages } from '../messages';
import type { SendBlock } from '../photos';

export interface SendBarProps {
  block: SendBlock;
  sending: boolean;
  canClear: boolean;
  onSend: () => void;
  onClear: () => void;
}

function hint(m: Messages, block: SendBlock, sending: boolean): string | null {
  switch (block) {
    case null:
      return null;
    case 'busy':
      // While sending, the button itself says so.
      return sending ? null : m.sendHintBusy;
    case 'photos':
      return m.sendHintPhotos;
    case 'gender':
      return m.sendHintGender;
    case 'same':
      return m.sendHintSame;
  }
}

export function SendBar({ block, sending, canClear, onSend, onClear }: SendBarProps) {
  const { m } = useMessages();
  return (
    <div className="actions">
      <button type="button" className="button primary" disabled={block !== null} aria-describedby="send-hint" aria-busy={sending} onClick={onSend}>
        {sending ? (
          <>
            <span className="spinner" aria-hidden="true" /> {m.sending}
          </>
        ) : (
          m.send
        )}
      </button>
      <button type="button" className="button" disabled={!canClear} onClick={onClear}>
        {m.clear}
      </button>
      <p id="send-hint" className="hint">
        {hint(m, block, sending)}
      </p>
    </div>
  );
}
