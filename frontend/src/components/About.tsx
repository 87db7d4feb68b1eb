// What the tool does and how to use it, in a short list.

import { fill } from '../i18n';
import { useMessages } from '../messages';

export function About({ maxFiles }: { maxFiles: number }) {
  const { m } = useMessages();
  return (
    <section className="about" aria-labelledby="about-title">
      <h2 id="about-title">{m.aboutTitle}</h2>
      <ul>
        {m.about.map((line) => (
          <li key={line}>{fill(line, { max: maxFiles })}</li>
        ))}
      </ul>
    </section>
  );
}
