// The page: pick up to N photos, choose M or W, send, see a score bar (and the person box) on each.
// App only composes: the state lives in hooks/, the markup in components/, the words in the messages context.

import { About } from './components/About';
import { DropZone } from './components/DropZone';
import { EveryoneSwitch } from './components/EveryoneSwitch';
import { Gallery } from './components/Gallery';
import { GenderPicker } from './components/GenderPicker';
import { Header } from './components/Header';
import { ModelInfo } from './components/ModelInfo';
import { Notices } from './components/Notices';
import { SendBar } from './components/SendBar';
import { browserCanvas, type CanvasApi } from './compress';
import { DEFAULT_SETTINGS, loadSettings, type LoadedSettings } from './config';
import { useExplain } from './hooks/useExplain';
import { useGallery } from './hooks/useGallery';
import { useMessageState } from './hooks/useMessageState';
import { useRating } from './hooks/useRating';
import { useSettingsAndModels } from './hooks/useSettingsAndModels';
import type { Lang } from './i18n';
import { MessagesContext } from './messages';

export interface AppProps {
  /** Browser image APIs (tests pass a stub: jsdom has no canvas). */
  canvasApi?: CanvasApi;
  /** Where the settings come from (tests pass their own). */
  settingsLoader?: () => Promise<LoadedSettings>;
  initialLang?: Lang;
}

export function App({ canvasApi = browserCanvas, settingsLoader = () => loadSettings(), initialLang }: AppProps) {
  const messages = useMessageState(initialLang);
  const { settings, models } = useSettingsAndModels(settingsLoader, messages.addInfo);
  const maxFiles = settings?.maxFiles ?? DEFAULT_SETTINGS.maxFiles;
  const gallery = useGallery({ canvasApi, maxFiles, showError: messages.showError });
  const rating = useRating({ settings, models, gallery, showError: messages.showError });
  const explainer = useExplain({ settings, gender: rating.gender, gallery, showError: messages.showError });

  return (
    <MessagesContext.Provider value={messages}>
      <div className="page">
        <Header />
        <main>
          <About maxFiles={maxFiles} />
          <ModelInfo model={rating.model} />
          <section className="controls" aria-label={messages.m.photos}>
            <DropZone enabled={settings !== null} count={gallery.photos.length} maxFiles={maxFiles} onFiles={gallery.add} />
            <GenderPicker gender={rating.gender} onChoose={rating.chooseGender} />
            <EveryoneSwitch on={rating.everyone} onChange={rating.chooseEveryone} />
            <SendBar
              block={rating.block}
              sending={rating.sending}
              canClear={gallery.photos.length > 0}
              onSend={() => void rating.send()}
              onClear={rating.clearAll}
            />
          </section>
          <Notices />
          <Gallery
            photos={gallery.photos}
            scoring={rating.inFlight}
            onRemove={gallery.remove}
            explaining={explainer.explaining}
            onExplain={(id) => void explainer.explain(id)}
          />
        </main>
        <footer className="footer">{messages.m.footer}</footer>
      </div>
    </MessagesContext.Provider>
  );
}
