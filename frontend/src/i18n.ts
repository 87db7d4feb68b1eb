// English and Russian texts, the language picked from the browser, and message formatting.

import type { ApiError } from './api';

export type Lang = 'en' | 'ru';
export const LANGS: Lang[] = ['en', 'ru'];
const STORAGE_KEY = 'pretty-meter.lang';

/** The first browser language we speak; English otherwise. A choice made on the page wins. */
export function detectLang(languages: readonly string[] = navigator.languages ?? [navigator.language]): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'ru') return saved;
  } catch {
    // storage may be blocked; fall through to the browser's languages
  }
  for (const tag of languages) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'ru' || base === 'en') return base;
  }
  return 'en';
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not fatal: the choice just is not remembered
  }
}

const en = {
  title: 'pretty-meter',
  tagline: 'How good do you look on this photo? A neural network rates it from 0 to 10.',
  aboutTitle: 'How it works',
  about: [
    'pretty-meter rates how good a person looks on a photo, on a scale from 0 to 10.',
    'The rating comes from a neural network trained on photos rated by people.',
    'You can send up to {max} photos at once.',
    'A face must be clearly visible, and there must be one person on each photo.',
    'Scores are approximate: people’s opinions differ, and so do models.',
    'Please do not take the result seriously: it is a toy, not a verdict.',
  ],
  language: 'Language',
  photos: 'Photos',
  addPhotos: 'Add photos',
  takePhoto: 'Take a photo',
  dropHere: 'or drop photos here',
  dropNow: 'Drop the photos to add them',
  photoCount: '{n} of {max} photos',
  gender: 'Who is on the photos?',
  man: 'Man (M)',
  woman: 'Woman (W)',
  send: 'Rate',
  sending: 'Rating…',
  clear: 'Clear',
  sendHintPhotos: 'Add at least one photo.',
  sendHintGender: 'Choose M or W.',
  sendHintBusy: 'Wait until the photos are ready.',
  sendHintSame: 'These photos are already rated; change something to rate again.',
  remove: 'Remove photo {n}',
  photoAlt: 'Photo {n}: {name}',
  preparing: 'Preparing…',
  scoring: 'Rating…',
  score: 'Score',
  scoreOf: '{score} out of 10',
  uncertainty: '± {value}',
  percentile: 'Higher than {p}% of the photos the model was trained on',
  personBox: 'Person found here',
  model: 'Model: {name}',
  demoNotice:
    'This is a demo model trained on synthetic images, not on real rated photos: its scores mean nothing. To get a real one, train on your own dataset (see the README).',
  tooMany: 'You can add at most {max} photos at once. {skipped} not added.',
  notImage: '{name} is not a photo; add a JPEG, PNG, WebP or HEIC image.',
  decodeFailed: 'This browser cannot open this photo. Save it as JPEG and add it again.',
  noPreview: 'No preview in this browser; the original file will be sent.',
  photoErrors: {
    no_face: 'No face found on this photo. Use a photo where the face is clearly visible.',
    several_faces: 'There are several people on this photo. Use a photo of one person.',
    face_too_small: 'The face is too small on this photo. Use a closer photo.',
    not_an_image: 'The server could not read this photo. Try another one.',
    too_large: 'This photo is too large for the server.',
    unsupported_format: 'The server does not accept this type of file. Use JPEG or PNG.',
    invalid_base64: 'The photo was damaged on the way. Try again.',
    whole_photo_model:
      'This model was trained on whole photos and cannot score single faces. Turn off “Score everyone on the photo”.',
  } as Record<string, string>,
  advice: {
    blurred: 'The face is blurred: hold the camera still and focus on the face.',
    too_dark: 'The face is too dark: add light or face the light.',
    overexposed: 'The face is overexposed: avoid direct light or the flash.',
    face_small: 'The face is small: come closer or crop the photo.',
    head_tilted: 'The head is tilted: hold the head level.',
    head_turned: 'The head is turned: look straight at the camera.',
  } as Record<string, string>,
  everyone: 'Score everyone on the photo',
  everyoneNote:
    'Off by default: the people on a group photo did not all ask to be rated. Turn it on only with their consent.',
  faceChip: 'Face {n}: {score}',
  faceChipError: 'Face {n}: not scored',
  faceTitle: 'Face {n}',
  faceHint: 'Point at, tap or focus a score on the photo to see its details.',
  adviceTitle: 'What pulls the score down',
  explain: {
    ask: 'Explain this score',
    busy: 'Explaining…',
    hide: 'Hide the explanation',
    show: 'Show the explanation',
    title: 'Why this score',
    note: 'This shows what the model reacts to, not what is beautiful. Each part of the photo was covered with a plain patch of average colour and scored again.',
    overlay: 'Heat map of what the model reacts to',
    legendTitle: 'Colours on the photo: how the score changes when the part of the face under them is covered',
    raises: 'orange: the part raises the score (covered, the score drops)',
    lowers: 'blue: the part lowers the score (covered, the score rises)',
    scale: 'Full colour: {max} points out of 10 or more; the paler, the smaller.',
    regionsTitle: 'Each part of the face, in points (+ raises the score, − lowers it)',
    // With a label map (heatmap_from 'label_map'): read from the model's own last feature map.
    fromMap: {
      note: 'This shows what the model reacts to, not what is beautiful. It is read from the model itself: the score it gives each spot of the photo.',
      legendTitle: 'Colours on the photo: how much higher or lower the model scores that spot than the face as a whole',
      raises: 'orange: the model scores this spot higher',
      lowers: 'blue: the model scores this spot lower',
    },
    none: 'No explanation here: the service found no face landmarks to place the parts of the face.',
    regions: {
      eyes: 'Eyes',
      brows: 'Brows',
      nose: 'Nose',
      mouth: 'Mouth',
      forehead_and_hair: 'Forehead and hair',
      cheeks_and_jaw: 'Cheeks and jaw',
      background: 'Background',
    } as Record<string, string>,
  },
  errors: {
    too_large:
      'The photos are too large for the server (HTTP 413). Send fewer photos at once or smaller ones.',
    busy: 'The server is busy right now. Try again in a moment.',
    busyRetry: 'The server is busy right now. Try again in {s} s.',
    client: 'The server refused the request (HTTP {status}): {detail}',
    clientNoDetail: 'The server refused the request (HTTP {status}).',
    server: 'The server failed (HTTP {status}). Try again later; if it keeps failing, tell the site owner.',
    network: 'Cannot reach the server. Check your internet connection and try again.',
    timeout: 'The server took too long to answer. Try again with fewer photos.',
    bad_answer: 'The server sent an answer the page cannot read. Reload the page and try again.',
    unknown: 'Something went wrong. Reload the page and try again.',
  },
  modelsUnavailable: 'Could not load the list of models; rating may still work.',
  configProblem: 'Settings file problem ({problem}); using the defaults.',
  footer: 'Photos are scored and forgotten: the service keeps none of them.',
};

export type Messages = typeof en;

const ru: Messages = {
  title: 'pretty-meter',
  tagline: 'Насколько хорошо вы выглядите на этой фотографии? Нейросеть оценит её от 0 до 10.',
  aboutTitle: 'Как это работает',
  about: [
    'pretty-meter оценивает, насколько хорошо человек выглядит на фотографии, по шкале от 0 до 10.',
    'Оценку ставит нейронная сеть, обученная на фотографиях, оценённых людьми.',
    'Можно отправить до {max} фотографий за раз.',
    'Лицо должно быть хорошо видно, и на каждой фотографии должен быть один человек.',
    'Оценки приблизительные: мнения людей расходятся, как и модели.',
    'Пожалуйста, не воспринимайте результат всерьёз: это игрушка, а не приговор.',
  ],
  language: 'Язык',
  photos: 'Фотографии',
  addPhotos: 'Добавить фото',
  takePhoto: 'Сделать снимок',
  dropHere: 'или перетащите фотографии сюда',
  dropNow: 'Отпустите, чтобы добавить фотографии',
  photoCount: '{n} из {max} фото',
  gender: 'Кто на фотографиях?',
  man: 'Мужчина (М)',
  woman: 'Женщина (Ж)',
  send: 'Оценить',
  sending: 'Оцениваем…',
  clear: 'Очистить',
  sendHintPhotos: 'Добавьте хотя бы одну фотографию.',
  sendHintGender: 'Выберите М или Ж.',
  sendHintBusy: 'Подождите, пока фотографии подготовятся.',
  sendHintSame: 'Эти фотографии уже оценены; измените что-нибудь, чтобы оценить снова.',
  remove: 'Убрать фото {n}',
  photoAlt: 'Фото {n}: {name}',
  preparing: 'Готовим…',
  scoring: 'Оцениваем…',
  score: 'Оценка',
  scoreOf: '{score} из 10',
  uncertainty: '± {value}',
  percentile: 'Выше, чем {p}% фотографий, на которых обучалась модель',
  personBox: 'Здесь найден человек',
  model: 'Модель: {name}',
  demoNotice:
    'Это демонстрационная модель, обученная на синтетических изображениях, а не на настоящих оценённых фотографиях: её оценки ничего не значат. Чтобы получить настоящую, обучите модель на своём наборе данных (см. README).',
  tooMany: 'За раз можно добавить не больше {max} фото. Не добавлено: {skipped}.',
  notImage: '{name} — не фотография; добавьте изображение JPEG, PNG, WebP или HEIC.',
  decodeFailed: 'Браузер не может открыть эту фотографию. Сохраните её в JPEG и добавьте снова.',
  noPreview: 'Этот браузер не может показать фото; будет отправлен исходный файл.',
  photoErrors: {
    no_face: 'На этой фотографии не найдено лицо. Выберите фото, где лицо хорошо видно.',
    several_faces: 'На этой фотографии несколько человек. Выберите фото одного человека.',
    face_too_small: 'Лицо на этой фотографии слишком маленькое. Выберите фото крупнее.',
    not_an_image: 'Сервер не смог прочитать эту фотографию. Попробуйте другую.',
    too_large: 'Эта фотография слишком большая для сервера.',
    unsupported_format: 'Сервер не принимает такой тип файла. Используйте JPEG или PNG.',
    invalid_base64: 'Фотография повредилась по дороге. Попробуйте ещё раз.',
    whole_photo_model:
      'Эта модель обучена на целых фотографиях и не умеет оценивать отдельные лица. Выключите «Оценить всех на фото».',
  },
  advice: {
    blurred: 'Лицо размыто: держите камеру неподвижно и наведите фокус на лицо.',
    too_dark: 'Лицо слишком тёмное: добавьте света или повернитесь к свету.',
    overexposed: 'Лицо пересвечено: избегайте прямого света и вспышки.',
    face_small: 'Лицо слишком мелкое: подойдите ближе или обрежьте фото.',
    head_tilted: 'Голова наклонена: держите голову ровно.',
    head_turned: 'Голова повёрнута: смотрите прямо в камеру.',
  },
  everyone: 'Оценить всех на фото',
  everyoneNote:
    'По умолчанию выключено: не все люди на групповом фото просили их оценивать. Включайте только с их согласия.',
  faceChip: 'Лицо {n}: {score}',
  faceChipError: 'Лицо {n}: без оценки',
  faceTitle: 'Лицо {n}',
  faceHint: 'Наведите, нажмите или выберите клавиатурой оценку на фото, чтобы увидеть подробности.',
  adviceTitle: 'Что снижает оценку',
  explain: {
    ask: 'Объяснить оценку',
    busy: 'Объясняем…',
    hide: 'Скрыть объяснение',
    show: 'Показать объяснение',
    title: 'Почему такая оценка',
    note: 'Здесь видно, на что реагирует модель, а не что красиво. Каждую часть фото закрыли ровной заплаткой среднего цвета и оценили снова.',
    overlay: 'Тепловая карта: на что реагирует модель',
    legendTitle: 'Цвета на фото: как меняется оценка, если закрыть часть лица под ними',
    raises: 'оранжевый: часть повышает оценку (если закрыть, оценка падает)',
    lowers: 'синий: часть понижает оценку (если закрыть, оценка растёт)',
    scale: 'Полный цвет — {max} балла из 10 и больше; чем бледнее, тем меньше.',
    regionsTitle: 'Каждая часть лица, в баллах (+ повышает оценку, − понижает)',
    fromMap: {
      note: 'Здесь видно, на что реагирует модель, а не что красиво. Это прочитано из самой модели: какую оценку она даёт каждому месту фото.',
      legendTitle: 'Цвета на фото: насколько выше или ниже модель оценивает это место, чем лицо в целом',
      raises: 'оранжевый: модель оценивает это место выше',
      lowers: 'синий: модель оценивает это место ниже',
    },
    none: 'Объяснения нет: сервис не нашёл опорных точек лица, чтобы найти его части.',
    regions: {
      eyes: 'Глаза',
      brows: 'Брови',
      nose: 'Нос',
      mouth: 'Рот',
      forehead_and_hair: 'Лоб и волосы',
      cheeks_and_jaw: 'Щёки и подбородок',
      background: 'Фон',
    },
  },
  errors: {
    too_large:
      'Фотографии слишком большие для сервера (HTTP 413). Отправьте меньше фотографий за раз или фотографии поменьше.',
    busy: 'Сервер сейчас занят. Попробуйте ещё раз через минуту.',
    busyRetry: 'Сервер сейчас занят. Попробуйте ещё раз через {s} с.',
    client: 'Сервер отклонил запрос (HTTP {status}): {detail}',
    clientNoDetail: 'Сервер отклонил запрос (HTTP {status}).',
    server: 'Ошибка на сервере (HTTP {status}). Попробуйте позже; если не пройдёт, сообщите владельцу сайта.',
    network: 'Не удаётся связаться с сервером. Проверьте подключение к интернету и попробуйте ещё раз.',
    timeout: 'Сервер слишком долго не отвечает. Попробуйте отправить меньше фотографий.',
    bad_answer: 'Сервер прислал ответ, который страница не понимает. Обновите страницу и попробуйте ещё раз.',
    unknown: 'Что-то пошло не так. Обновите страницу и попробуйте ещё раз.',
  },
  modelsUnavailable: 'Не удалось загрузить список моделей; оценка всё равно может работать.',
  configProblem: 'Ошибка в файле настроек ({problem}); используются настройки по умолчанию.',
  footer: 'Фотографии оцениваются и сразу забываются: сервис их не хранит.',
};

export const MESSAGES: Record<Lang, Messages> = { en, ru };

/** Fill {name} placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (match, key: string) => (key in values ? String(values[key]) : match));
}

/** The one line the page shows for a failed request. */
export function requestErrorMessage(messages: Messages, error: unknown): string {
  const e = messages.errors;
  if (!error || typeof error !== 'object' || !('kind' in error)) return e.unknown;
  const apiError = error as ApiError;
  switch (apiError.kind) {
    case 'too_large':
      return e.too_large;
    case 'busy':
      return apiError.retryAfter ? fill(e.busyRetry, { s: apiError.retryAfter }) : e.busy;
    case 'client':
      return apiError.detail
        ? fill(e.client, { status: apiError.status ?? '', detail: apiError.detail })
        : fill(e.clientNoDetail, { status: apiError.status ?? '' });
    case 'server':
      return fill(e.server, { status: apiError.status ?? '' });
    case 'network':
      return e.network;
    case 'timeout':
      return e.timeout;
    case 'bad_answer':
      return e.bad_answer;
    default:
      return e.unknown;
  }
}

/** One advice line: ours in the chosen language, else the server's English message. */
export function adviceMessage(messages: Messages, code: string, serverMessage: string): string {
  return messages.advice[code] ?? serverMessage;
}

/** The line shown on a photo the server could not score. */
export function photoErrorMessage(messages: Messages, code: string, serverMessage: string): string {
  return messages.photoErrors[code] ?? serverMessage;
}
