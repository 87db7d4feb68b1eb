// config.json once at start (then analytics and GET /v1/models); a problem with either is a note, not a failure.

import { useEffect, useState } from 'react';
import { fetchModels, type ModelInfo } from '../api';
import { startAnalytics } from '../analytics';
import { fill } from '../i18n';
import type { LoadedSettings, Settings } from '../config';
import type { Localized } from '../messages';

export interface SettingsAndModels {
  /** null until config.json is read (the file pickers stay disabled until then). */
  settings: Settings | null;
  /** null until /v1/models answers (or when it cannot be read). */
  models: ModelInfo[] | null;
}

export function useSettingsAndModels(
  settingsLoader: () => Promise<LoadedSettings>,
  addInfo: (note: Localized) => void,
): SettingsAndModels {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [models, setModels] = useState<ModelInfo[] | null>(null);

  useEffect(() => {
    let live = true;
    void settingsLoader().then(({ settings: loaded, problem }) => {
      if (!live) return;
      setSettings(loaded);
      if (problem) addInfo((m) => fill(m.configProblem, { problem }));
      startAnalytics(loaded.analyticsId);
      fetchModels(loaded.apiBaseUrl)
        .then((list) => live && setModels(list))
        .catch(() => live && addInfo((m) => m.modelsUnavailable));
    });
    return () => {
      live = false;
    };
    // settings are read once, at start
  }, []);

  return { settings, models };
}
