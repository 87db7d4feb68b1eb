// The page: pick up to N photos, choose M or W, send, see a score bar (and the person box) on each.

import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type DragEvent } from 'react';
import { fetchModels, ratePhotos, type Gender, type ModelInfo, type PhotoResult } from './api';
import { startAnalytics } from './analytics';
import { browserCanvas, compressImage, type CanvasApi } from './compress';
import { loadSettings, type LoadedSettings, type Settings } from './config';
import { LANGS, MESSAGES, detectLang, fill, photoErrorMessage, requestErrorMessage, saveLang, type Lang, type Messages } from './i18n';
import { requestKey, selectFiles, sendAsOriginal, sendBlock, type Photo } from './photos';

type Notice = { tone: 'error' | 'info'; text: (m: Messages) => string };

export interface AppProps {
  /** Browser image APIs (tests pass a stub: jsdom has no canvas). */
  canvasApi?: CanvasApi;
  /** Where the settings come from (tests pass their own). */
  settingsLoader?: () => Promise<LoadedSettings>;
  initialLang?: Lang;
}

const LANG_NAMES: Record<Lang, string> = { en: 'English', ru: 'Русский' };

function Mark() {
  return (
    <svg className="mark" viewBox="0 0 48 48" width="40" height="40" aria-hidden="true" focusable="false">
      <path d="M6 34a18 18 0 0 1 36 0" fill="none" stroke="currentColor" strokeWidth="5" strokeLinecap="round" />
      <path d="M24 34 L34 18" stroke="#e4405f" strokeWidth="4" strokeLinecap="round" />
      <circle cx="24" cy="34" r="4" fill="currentColor" />
    </svg>
  );
}

function ScoreBar({ score, m }: { score: number; m: Messages }) {
  const clamped = Math.min(10, Math.max(0, score));
  return (
    <div
      className="score"
      role="meter"
      aria-label={m.score}
      aria-valuemin={0}
      aria-valuemax={10}
      aria-valuenow={clamped}
      aria-valuetext={fill(m.scoreOf, { score: clamped.toFixed(1) })}
    >
      <div className="score-fill" style={{ width: `${clamped * 10}%` }} />
      <span className="score-number" style={{ left: `clamp(1.6em, ${clamped * 10}%, calc(100% - 1.6em))` }}>
        {clamped.toFixed(1)}
      </span>
    </div>
  );
}

function PersonBox({ result, photo, m }: { result: PhotoResult; photo: Photo; m: Messages }) {
  const box = result.box;
  const [w, h] = result.image_size ?? [photo.width ?? 0, photo.height ?? 0];
  if (!box || !(w > 0) || !(h > 0)) return null;
  const pct = (v: number, of: number) => `${Math.min(100, Math.max(0, (v / of) * 100))}%`;
  const style: CSSProperties = {
    left: pct(box[0], w),
    top: pct(box[1], h),
    width: pct(box[2] - box[0], w),
    height: pct(box[3] - box[1], h),
  };
  return <div className="person-box" style={style} title={m.personBox} data-testid="person-box" />;
}

function PhotoCard({
  photo,
  position,
  scoring,
  m,
  onRemove,
}: {
  photo: Photo;
  position: number;
  scoring: boolean;
  m: Messages;
  onRemove: (id: number) => void;
}) {
  const ratio = photo.width && photo.height ? photo.width / photo.height : 1;
  const result = photo.result;
  return (
    <li className="card" data-testid="photo-card" aria-busy={photo.status === 'preparing' || scoring}>
      <div className="frame">
        <div className="inner" style={{ '--ar': ratio } as CSSProperties}>
          {photo.url ? <img src={photo.url} alt={fill(m.photoAlt, { n: position, name: photo.name })} /> : null}
          {photo.original ? <p className="no-preview">{m.noPreview}</p> : null}
          {result && photo.url ? <PersonBox result={result} photo={photo} m={m} /> : null}
        </div>
        {photo.status === 'preparing' || scoring ? (
          <div className="overlay" role="status">
            <span className="spinner" aria-hidden="true" />
            {photo.status === 'preparing' ? m.preparing : m.scoring}
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
            <ScoreBar score={result.score} m={m} />
            <p className="percentile">
              {result.percentile !== null ? fill(m.percentile, { p: Math.round(result.percentile) }) : null}
              {result.uncertainty !== null ? (
                <span className="uncertainty"> ({fill(m.uncertainty, { value: result.uncertainty.toFixed(1) })})</span>
              ) : null}
            </p>
          </>
        ) : null}
        {result && result.error ? (
          <p className="photo-error" data-testid="photo-error" data-code={result.error.code}>
            {photoErrorMessage(m, result.error.code, result.error.message)}
          </p>
        ) : null}
      </div>
    </li>
  );
}

export function App({ canvasApi = browserCanvas, settingsLoader = () => loadSettings(), initialLang }: AppProps) {
  const [lang, setLang] = useState<Lang>(() => initialLang ?? detectLang());
  const m = MESSAGES[lang];
  const [settings, setSettings] = useState<Settings | null>(null);
  const [models, setModels] = useState<ModelInfo[] | null>(null);
  const [photos, setPhotosState] = useState<Photo[]>([]);
  // The gallery as of the last change, read synchronously (two drops in one tick must not both fit).
  const photosRef = useRef<Photo[]>([]);
  const setPhotos = useCallback((update: (current: Photo[]) => Photo[]) => {
    const next = update(photosRef.current);
    if (next !== photosRef.current) {
      photosRef.current = next;
      setPhotosState(next);
    }
  }, []);
  const [gender, setGender] = useState<Gender | null>(null);
  const [sending, setSending] = useState(false);
  const [inFlight, setInFlight] = useState<ReadonlySet<number>>(new Set());
  const [lastSentKey, setLastSentKey] = useState<string | null>(null);
  const [answered, setAnswered] = useState<{ name: string; demo: boolean; gender: Gender } | null>(null);
  const [error, setError] = useState<Notice | null>(null);
  const [info, setInfo] = useState<Notice[]>([]);
  const [dragging, setDragging] = useState(false);
  const sendingRef = useRef(false);
  const nextId = useRef(1);
  const dragDepth = useRef(0);
  const urls = useRef(new Set<string>());

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = `${m.title} — ${m.tagline.split('?')[0]}?`;
  }, [lang, m]);

  useEffect(() => {
    let live = true;
    void settingsLoader().then(({ settings: loaded, problem }) => {
      if (!live) return;
      setSettings(loaded);
      if (problem) setInfo((old) => [...old, { tone: 'info', text: (mm) => fill(mm.configProblem, { problem }) }]);
      startAnalytics(loaded.analyticsId);
      fetchModels(loaded.apiBaseUrl)
        .then((list) => live && setModels(list))
        .catch(() => live && setInfo((old) => [...old, { tone: 'info', text: (mm) => mm.modelsUnavailable }]));
    });
    return () => {
      live = false;
    };
    // settings are read once, at start
  }, []);

  useEffect(
    () => () => {
      for (const url of urls.current) URL.revokeObjectURL(url);
    },
    [],
  );

  const maxFiles = settings?.maxFiles ?? 4;

  const addFiles = useCallback(
    (files: File[]) => {
      if (!files.length) return;
      const selection = selectFiles(files, photosRef.current.length, maxFiles);
      const notes: Notice[] = [];
      if (selection.skipped > 0) {
        notes.push({ tone: 'error', text: (mm) => fill(mm.tooMany, { max: maxFiles, skipped: selection.skipped }) });
      }
      for (const file of selection.notImages) {
        notes.push({ tone: 'error', text: (mm) => fill(mm.notImage, { name: file.name }) });
      }
      setError(notes.length ? { tone: 'error', text: (mm) => notes.map((n) => n.text(mm)).join(' ') } : null);
      const added: Photo[] = selection.accepted.map((file) => ({ id: nextId.current++, name: file.name, status: 'preparing' }));
      if (!added.length) return;
      setPhotos((current) => [...current, ...added]);
      added.forEach((photo, i) => {
        compressImage(selection.accepted[i], {}, canvasApi)
          .then((compressed) => {
            const url = URL.createObjectURL(compressed.blob);
            urls.current.add(url);
            setPhotos((current) => {
              if (!current.some((p) => p.id === photo.id)) {
                URL.revokeObjectURL(url);
                urls.current.delete(url);
                return current;
              }
              return current.map((p) =>
                p.id === photo.id ? { ...p, status: 'ready', blob: compressed.blob, url, width: compressed.width, height: compressed.height } : p,
              );
            });
          })
          .catch(() => {
            const file = selection.accepted[i];
            // Chrome cannot decode HEIC, the service can: send such a photo as it is.
            const fallback: Partial<Photo> = sendAsOriginal(file)
              ? { status: 'ready', blob: file, original: true }
              : { status: 'failed' };
            setPhotos((current) => current.map((p) => (p.id === photo.id ? { ...p, ...fallback } : p)));
          });
      });
    },
    [canvasApi, maxFiles, setPhotos],
  );

  const removePhoto = useCallback((id: number) => {
    setPhotos((current) => {
      const gone = current.find((p) => p.id === id);
      if (gone?.url) {
        URL.revokeObjectURL(gone.url);
        urls.current.delete(gone.url);
      }
      return current.filter((p) => p.id !== id);
    });
    setError(null);
  }, [setPhotos]);

  const clearAll = useCallback(() => {
    setPhotos((current) => {
      for (const p of current) {
        if (p.url) {
          URL.revokeObjectURL(p.url);
          urls.current.delete(p.url);
        }
      }
      return [];
    });
    setError(null);
    setLastSentKey(null);
    setAnswered(null);
  }, [setPhotos]);

  const chooseGender = useCallback(
    (value: Gender) => {
      if (value === gender) return;
      setGender(value);
      // Scores from the other gender's model would be misleading next to the new choice.
      setPhotos((current) => current.map((p) => (p.result ? { ...p, result: undefined } : p)));
      setAnswered(null);
    },
    [gender, setPhotos],
  );

  const block = sendBlock({ photos, gender, sending, lastSentKey });

  const send = useCallback(async () => {
    if (sendingRef.current || !settings || !gender) return;
    const current = photosRef.current;
    if (sendBlock({ photos: current, gender, sending: false, lastSentKey }) !== null) return;
    sendingRef.current = true;
    const batch = current.filter((p) => p.status === 'ready' && p.blob);
    const key = requestKey(current, gender);
    setSending(true);
    setInFlight(new Set(batch.map((p) => p.id)));
    setError(null);
    try {
      const response = await ratePhotos(
        settings.apiBaseUrl,
        batch.map((p, i) => ({
          blob: p.blob as Blob,
          name: p.original ? `photo-${i + 1}${/\.[a-z0-9]+$/i.exec(p.name)?.[0] ?? ''}` : `photo-${i + 1}.jpg`,
        })),
        gender,
      );
      const byId = new Map<number, PhotoResult>();
      batch.forEach((p, i) => {
        const result = response.results.find((r) => r.index === i) ?? response.results[i];
        if (result) byId.set(p.id, result);
      });
      setPhotos((current) => current.map((p) => (byId.has(p.id) ? { ...p, result: byId.get(p.id) } : p)));
      setLastSentKey(key);
      setAnswered({ name: response.model, demo: response.demo, gender });
    } catch (failure) {
      setError({ tone: 'error', text: (mm) => requestErrorMessage(mm, failure) });
    } finally {
      sendingRef.current = false;
      setSending(false);
      setInFlight(new Set());
    }
  }, [settings, gender, lastSentKey, setPhotos]);

  const shownModel = useMemo(() => {
    if (answered && answered.gender === gender) return { name: answered.name, demo: answered.demo };
    if (!models) return null;
    const relevant = gender ? models.filter((x) => x.gender === gender) : models;
    if (!relevant.length) return null;
    return { name: relevant.map((x) => x.name).join(', '), demo: relevant.some((x) => x.demo) };
  }, [answered, models, gender]);

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    addFiles(Array.from(event.dataTransfer.files));
  };

  const switchLang = (value: Lang) => {
    setLang(value);
    saveLang(value);
  };

  const hint = block === null ? null : block === 'busy' ? (sending ? null : m.sendHintBusy) : block === 'photos' ? m.sendHintPhotos : block === 'gender' ? m.sendHintGender : m.sendHintSame;

  return (
    <div className="page">
      <header className="header">
        <div className="brand">
          <Mark />
          <div>
            <h1>{m.title}</h1>
            <p className="tagline">{m.tagline}</p>
          </div>
        </div>
        <div className="lang-switch" role="group" aria-label={m.language}>
          {LANGS.map((value) => (
            <button key={value} type="button" lang={value} aria-pressed={value === lang} onClick={() => switchLang(value)}>
              {LANG_NAMES[value]}
            </button>
          ))}
        </div>
      </header>

      <main>
        <section className="about" aria-labelledby="about-title">
          <h2 id="about-title">{m.aboutTitle}</h2>
          <ul>
            {m.about.map((line) => (
              <li key={line}>{fill(line, { max: maxFiles })}</li>
            ))}
          </ul>
        </section>

        {shownModel ? (
          <section className={shownModel.demo ? 'model demo' : 'model'} aria-label={fill(m.model, { name: shownModel.name })} data-testid="model-info">
            <p className="model-name">{fill(m.model, { name: shownModel.name })}</p>
            {shownModel.demo ? <p className="demo-notice">{m.demoNotice}</p> : null}
          </section>
        ) : null}

        <section className="controls" aria-label={m.photos}>
          <div
            className={dragging ? 'dropzone dragging' : 'dropzone'}
            data-testid="dropzone"
            onDragEnter={(e) => {
              e.preventDefault();
              dragDepth.current += 1;
              setDragging(true);
            }}
            onDragOver={(e) => e.preventDefault()}
            onDragLeave={() => {
              dragDepth.current = Math.max(0, dragDepth.current - 1);
              if (dragDepth.current === 0) setDragging(false);
            }}
            onDrop={onDrop}
          >
            <div className="pickers">
              <input
                id="file-input"
                className="visually-hidden"
                type="file"
                accept="image/*,.heic,.heif"
                multiple
                disabled={!settings}
                onChange={(e) => {
                  addFiles(Array.from(e.target.files ?? []));
                  e.target.value = '';
                }}
              />
              <label htmlFor="file-input" className="button primary-outline">
                {m.addPhotos}
              </label>
              <input
                id="camera-input"
                className="visually-hidden camera-only"
                type="file"
                accept="image/*"
                capture="user"
                disabled={!settings}
                onChange={(e) => {
                  addFiles(Array.from(e.target.files ?? []));
                  e.target.value = '';
                }}
              />
              <label htmlFor="camera-input" className="button primary-outline camera-only">
                {m.takePhoto}
              </label>
            </div>
            <p className="drop-text">{dragging ? m.dropNow : m.dropHere}</p>
            <p className="count" aria-live="polite">
              {fill(m.photoCount, { n: photos.length, max: maxFiles })}
            </p>
          </div>

          <fieldset className="gender">
            <legend>{m.gender}</legend>
            {(['m', 'w'] as const).map((value) => (
              <label key={value} className="radio">
                <input type="radio" name="gender" value={value} checked={gender === value} onChange={() => chooseGender(value)} />
                <span>{value === 'm' ? m.man : m.woman}</span>
              </label>
            ))}
          </fieldset>

          <div className="actions">
            <button type="button" className="button primary" disabled={block !== null} aria-describedby="send-hint" aria-busy={sending} onClick={() => void send()}>
              {sending ? (
                <>
                  <span className="spinner" aria-hidden="true" /> {m.sending}
                </>
              ) : (
                m.send
              )}
            </button>
            <button type="button" className="button" disabled={photos.length === 0} onClick={clearAll}>
              {m.clear}
            </button>
            <p id="send-hint" className="hint">
              {hint}
            </p>
          </div>
        </section>

        <div className="messages">
          <div role="alert" className={error ? 'alert error' : 'alert'} data-testid="error">
            {error ? error.text(m) : null}
          </div>
          {info.map((note, i) => (
            <p key={i} className="alert info" role="status">
              {note.text(m)}
            </p>
          ))}
        </div>

        {photos.length ? (
          <ul className="gallery" aria-label={m.photos}>
            {photos.map((photo, i) => (
              <PhotoCard key={photo.id} photo={photo} position={i + 1} scoring={inFlight.has(photo.id)} m={m} onRemove={removePhoto} />
            ))}
          </ul>
        ) : null}
      </main>
      <footer className="footer">{m.footer}</footer>
    </div>
  );
}
