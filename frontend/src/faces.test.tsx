import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { adviceMessage, MESSAGES } from './i18n';
import { MODELS, jsonResponse, photoFile, routedFetch, scored, stubCanvas, type Route } from './test-helpers';

let rate: Route;
let fetchStub: ReturnType<typeof routedFetch>;

const face = (box: [number, number, number, number], score: number | null, extra: Record<string, unknown> = {}) => ({
  box,
  landmarks: [],
  confidence: 0.99,
  main: false,
  region: null,
  score,
  rate: score,
  percentile: score === null ? null : 40,
  uncertainty: score === null ? null : 0.4,
  quality: score === null ? null : { advice: [] },
  error: null,
  ...extra,
});

const GROUP = [
  face([10, 20, 110, 140], 6.2, { quality: { advice: [{ code: 'too_dark', message: 'the face is too dark' }] } }),
  face([200, 30, 280, 130], 4.8),
  face([400, 50, 420, 75], null, { error: { code: 'face_too_small', message: 'face too small' } }),
];

beforeEach(() => {
  localStorage.clear();
  rate = () =>
    jsonResponse({
      model: 'crop-man',
      demo: false,
      results: [{ ...scored(0, 6.4), score: null, box: null, error: { code: 'several_faces', message: 'x' }, faces: GROUP }],
    });
  fetchStub = routedFetch({
    'config.json': () => jsonResponse({ apiBaseUrl: '', maxFiles: 4, analyticsId: null }),
    '/v1/models': () => jsonResponse(MODELS),
    '/v1/rate': (url, init) => rate(url, init),
  });
  vi.stubGlobal('fetch', fetchStub);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function sendPhoto(lang: 'en' | 'ru' = 'en', everyone = true) {
  const user = userEvent.setup();
  render(<App canvasApi={stubCanvas({ width: 1000, height: 800 }).api} initialLang={lang} />);
  const input = await screen.findByLabelText(lang === 'en' ? 'Add photos' : 'Добавить фото');
  await waitFor(() => expect(input).toBeEnabled());
  await user.upload(input, photoFile('group.jpg'));
  await user.click(screen.getByLabelText(lang === 'en' ? 'Man (M)' : 'Мужчина (М)'));
  const toggle = screen.getByRole('switch');
  expect(toggle).not.toBeChecked();
  if (everyone) await user.click(toggle);
  await user.click(screen.getByRole('button', { name: lang === 'en' ? 'Rate' : /^Оценить$/ }));
  return user;
}

const sentForm = () => fetchStub.mock.calls.filter(([url]) => String(url).endsWith('/v1/rate'))[0][1]?.body as FormData;

describe('every face on the photo', () => {
  it('test_the_switch_is_off_by_default_with_the_consent_note_and_sends_faces_all_only_when_on', async () => {
    rate = () => jsonResponse({ model: 'crop-man', demo: false, results: [scored(0, 6.4)] });
    await sendPhoto('en', false);
    await screen.findByRole('meter');
    expect(sentForm().get('faces')).toBeNull();
    expect(screen.getByRole('switch')).toHaveAccessibleDescription(/did not all ask to be rated/);
    expect(screen.queryAllByTestId('face-chip')).toHaveLength(0);
  });

  it('test_with_the_switch_on_faces_all_is_sent_and_one_chip_per_face_is_shown', async () => {
    const user = await sendPhoto();
    const chips = await screen.findAllByTestId('face-chip');
    expect(sentForm().get('faces')).toBe('all');
    expect(chips).toHaveLength(3);
    expect(chips.map((chip) => chip.getAttribute('aria-label'))).toEqual(['Face 1: 6.2', 'Face 2: 4.8', 'Face 3: not scored']);
    // boxes in percent of the 512×410 image the service received
    const second = screen.getAllByTestId('face-box')[1];
    expect(second.style.left).toBe(`${(200 / 512) * 100}%`);
    expect(second.style.height).toBe(`${(100 / 410) * 100}%`);

    await user.hover(chips[0]);
    const details = screen.getByTestId('face-details');
    expect(chips[0]).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getAllByTestId('face-box')[0]).toHaveClass('chosen');
    expect(details).toHaveTextContent('Face 1: 6.2 out of 10 (± 0.4)');
    expect(details).toHaveTextContent('Higher than 40% of the photos');
    expect(within(details).getByTestId('advice')).toHaveTextContent(MESSAGES.en.advice.too_dark);

    await user.click(chips[0]);
    await user.keyboard('{Tab}');
    expect(chips[1]).toHaveFocus();
    expect(details).toHaveTextContent('Face 2: 4.8 out of 10');

    await user.click(chips[2]);
    expect(details).toHaveTextContent(MESSAGES.en.photoErrors.face_too_small);
    expect(screen.getAllByTestId('face-box')[2]).toHaveClass('failed');
  });

  it('test_a_whole_photo_model_is_said_plainly', async () => {
    rate = () =>
      jsonResponse({
        model: 'demo-man',
        demo: true,
        results: [{ ...scored(0, 6.4), score: null, box: null, error: { code: 'whole_photo_model', message: 'x' }, faces: null }],
      });
    await sendPhoto('ru');
    expect(await screen.findByTestId('photo-error')).toHaveTextContent(MESSAGES.ru.photoErrors.whole_photo_model);
  });

  it('test_advice_on_a_photo_is_translated_and_an_unknown_code_shows_the_servers_message', async () => {
    rate = () =>
      jsonResponse({
        model: 'crop-man',
        demo: false,
        results: [
          {
            ...scored(0, 6.4),
            quality: {
              advice: [
                { code: 'blurred', message: 'the face is blurred' },
                { code: 'new_code', message: 'server words' },
              ],
            },
          },
        ],
      });
    await sendPhoto('ru', false);
    const advice = await screen.findByTestId('advice');
    expect(advice).toHaveTextContent(MESSAGES.ru.advice.blurred);
    expect(advice).toHaveTextContent('server words');
  });

  it('test_every_advice_code_has_both_languages', () => {
    const codes = ['blurred', 'too_dark', 'overexposed', 'face_small', 'head_tilted', 'head_turned'];
    for (const lang of ['en', 'ru'] as const) {
      expect(Object.keys(MESSAGES[lang].advice).sort()).toEqual([...codes].sort());
      for (const code of codes) expect(adviceMessage(MESSAGES[lang], code, 'fallback')).not.toBe('fallback');
    }
    expect(adviceMessage(MESSAGES.ru, 'other', 'fallback')).toBe('fallback');
  });
});
