// Which model rates (or rated) the photos, and the demo notice when it is a demo model.

import type { ShownModel } from '../hooks/useRating';
import { fill } from '../i18n';
import { useMessages } from '../messages';

export function ModelInfo({ model }: { model: ShownModel | null }) {
  const { m } = useMessages();
  if (!model) return null;
  const name = fill(m.model, { name: model.name });
  return (
    <section className={model.demo ? 'model demo' : 'model'} aria-label={name} data-testid="model-info">
      <p className="model-name">{name}</p>
      {model.demo ? <p className="demo-notice">{m.demoNotice}</p> : null}
    </section>
  );
}
