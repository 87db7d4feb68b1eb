import { cleanup, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { MESSAGES } from './i18n';
import { MODELS, jsonResponse, photoFile, routedFetch, scored, stubCanvas, type Route } from './test-helpers';

const EXPLANATION = {
  regions: [
    { name: 'eyes', delta: 0.42 },
    { name: 'brows', delta: -0.05 },
    { name: 'nose', delta: 0.1 },
    { name: 'mouth', delta: 0 },
    { name: 'forehead_and_hair', delta: 0.8 },
    { name: 'cheeks_and_jaw', delta: -0.3 },
    { name: 'background', delta: 0.2 },
  ],
  heatmap: [
    [0.5, 0.1, 0, -0.2],
    [0.3, 0.9, -0.4, 0],
    [0, 0, 0.05, 0],
    [0, -0.1, 0, 0],
  ],
  grid: 4,
  note: 'what the model reacts to, not what is beautiful',
};

// The photo the service saw is 512×410; the model scored the person box [112, 20, 312, 220].
const plain = () => ({ ...scored(0, 6.4), region: [112, 20, 312, 220], explanation: null });
const explained = () => ({ ...plain(), explanation: EXPLANATION });

let rate: Route;
let fetchStub: ReturnType<typeof routedFetch>;

beforeEach(() => {
  localStorage.clear();
  rate = (_url, init) => {
    const form = init?.body as FormData;
    return jsonResponse({ model: 'crop-man', demo: false, results: [form.get('explain') === 'true' ? explained() : plain()] });
  };
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

const rateForms = () => fetchStub.mock.calls.filter(([url]) => String(url).endsWith('/v1/rate')).map(([, init]) => init?.body as FormData);

async function scoredPhoto(lang: 'en' | 'ru' = 'en') {
  const user = userEvent.setup();
  render(<App canvasApi={stubCanvas({ width: 1000, height: 800 }).api} initialLang={lang} />);
  const input = await screen.findByLabelText(MESSAGES[lang].addPhotos);
  await waitFor(() => expect(input).toBeEnabled());
  await user.upload(input, photoFile('me.jpg'));
  await user.click(screen.getByLabelText(MESSAGES[lang].man));
  await user.click(screen.getByRole('button', { name: MESSAGES[lang].send }));
  await screen.findByRole('meter');
  return user;
}

describe('why this score', () => {
  it('test_explain_asks_with_explain_true_and_shows_the_overlay_legend_and_regions_then_hides_them', async () => {
    const user = await scoredPhoto();
    expect(rateForms()[0].get('explain')).toBeNull(); // a plain Rate does not pay for it
    expect(screen.queryByTestId('explain-overlay')).toBeNull();

    await user.click(screen.getByRole('button', { name: 'Explain this score' }));
    const overlay = await screen.findByTestId('explain-overlay');
    const form = rateForms()[1];
    expect(form.get('explain')).toBe('true');
    expect(form.get('faces')).toBeNull();
    expect(form.getAll('files')).toHaveLength(1);

    // 16 cells over the scored box, in percent of the 512×410 served image; colour by sign
    const cells = within(overlay).getAllByTestId('heat-cell');
    expect(cells).toHaveLength(16);
    expect(cells[0].style.left).toBe(`${(112 / 512) * 100}%`);
    expect(cells[0].style.top).toBe(`${(20 / 410) * 100}%`);
    expect(cells[0].style.backgroundColor).toMatch(/^rgba\(230, 97, 1, /);
    expect(cells[3].style.backgroundColor).toMatch(/^rgba\(33, 102, 172, /);

    const panel = screen.getByTestId('explain-panel');
    expect(panel).toHaveTextContent(/what the model reacts to, not what is beautiful/);
    const legend = within(panel).getByTestId('explain-legend');
    expect(legend).toHaveTextContent('\u22120.9');
    expect(legend).toHaveTextContent('+0.9');
    expect(legend).toHaveTextContent('Full colour: 0.9 points out of 10');
    const regions = within(panel).getAllByRole('listitem').filter((li) => li.dataset.region);
    expect(regions.map((li) => li.textContent)).toEqual([
      'Eyes+0.42',
      'Brows\u22120.05',
      'Nose+0.10',
      'Mouth0.00',
      'Forehead and hair+0.80',
      'Cheeks and jaw\u22120.30',
      'Background+0.20',
    ]);
    // the score itself did not change
    expect(screen.getByRole('meter')).toHaveTextContent('6.4');

    const hide = screen.getByRole('button', { name: 'Hide the explanation' });
    expect(hide).toHaveAttribute('aria-expanded', 'true');
    await user.click(hide);
    expect(screen.queryByTestId('explain-overlay')).toBeNull();
    expect(screen.queryByTestId('explain-panel')).toBeNull();
    // shown again without another request
    await user.click(screen.getByRole('button', { name: 'Show the explanation' }));
    expect(screen.getByTestId('explain-overlay')).toBeInTheDocument();
    expect(rateForms()).toHaveLength(2);
  });

  it('test_in_russian_the_note_legend_and_regions_are_russian', async () => {
    const user = await scoredPhoto('ru');
    await user.click(screen.getByRole('button', { name: 'Объяснить оценку' }));
    const panel = await screen.findByTestId('explain-panel');
    expect(panel).toHaveTextContent('на что реагирует модель, а не что красиво');
    expect(panel).toHaveTextContent('Полный цвет — 0.9 балла из 10');
    expect(panel).toHaveTextContent('Лоб и волосы+0.80');
    expect(screen.getByTestId('explain-overlay')).toHaveAccessibleName(MESSAGES.ru.explain.overlay);
    expect(screen.getByRole('button', { name: 'Скрыть объяснение' })).toBeInTheDocument();
  });

  it('test_an_explanation_read_from_the_label_map_says_so_in_both_languages', async () => {
    const fromMap = { ...plain(), explanation: { ...EXPLANATION, heatmap_from: 'label_map' } };
    rate = (_url, init) => {
      const asked = (init?.body as FormData).get('explain') === 'true';
      return jsonResponse({ model: 'crop-man', demo: false, results: [asked ? fromMap : plain()] });
    };
    for (const lang of ['en', 'ru'] as const) {
      const user = await scoredPhoto(lang);
      await user.click(screen.getByRole('button', { name: MESSAGES[lang].explain.ask }));
      const panel = await screen.findByTestId('explain-panel');
      const words = MESSAGES[lang].explain.fromMap;
      expect(panel).toHaveTextContent(words.note);
      expect(within(panel).getByTestId('explain-legend')).toHaveTextContent(words.legendTitle);
      expect(panel).toHaveTextContent(words.raises);
      expect(panel).not.toHaveTextContent(MESSAGES[lang].explain.legendTitle);
      cleanup();
    }
  });

  it('test_each_face_of_a_group_photo_shows_its_own_explanation', async () => {
    const face = (box: number[], region: number[]) => ({
      box,
      landmarks: [],
      confidence: 0.99,
      main: false,
      region,
      score: 5,
      rate: 5,
      percentile: 40,
      uncertainty: 0.3,
      quality: { advice: [] },
      error: null,
      explanation: null as null | typeof EXPLANATION,
    });
    const group = (explain: boolean) => {
      const faces = [face([10, 20, 110, 140], [0, 0, 200, 300]), face([300, 30, 380, 130], [260, 0, 420, 240])];
      if (explain) {
        faces[0].explanation = { ...EXPLANATION, heatmap: EXPLANATION.heatmap.map((row) => row.map(() => 0.5)) };
        faces[1].explanation = { ...EXPLANATION, heatmap: EXPLANATION.heatmap.map((row) => row.map(() => -0.5)) };
      }
      return { ...scored(0, 5), score: null, error: { code: 'several_faces', message: 'x' }, faces };
    };
    rate = (_url, init) => {
      const form = init?.body as FormData;
      return jsonResponse({ model: 'crop-man', demo: false, results: [group(form.get('explain') === 'true')] });
    };
    const user = userEvent.setup();
    render(<App canvasApi={stubCanvas({ width: 1000, height: 800 }).api} initialLang="en" />);
    const input = await screen.findByLabelText('Add photos');
    await waitFor(() => expect(input).toBeEnabled());
    await user.upload(input, photoFile('group.jpg'));
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(screen.getByRole('switch'));
    await user.click(screen.getByRole('button', { name: 'Rate' }));
    const chips = await screen.findAllByTestId('face-chip');
    expect(screen.queryByRole('button', { name: 'Explain this score' })).toBeNull(); // no face chosen yet

    await user.click(chips[1]);
    await user.click(screen.getByRole('button', { name: 'Explain this score' }));
    const overlay = await screen.findByTestId('explain-overlay');
    expect(rateForms()[1].get('faces')).toBe('all'); // asked the way the shown answer was
    const first = within(overlay).getAllByTestId('heat-cell')[0];
    expect(first.style.backgroundColor).toMatch(/^rgba\(33, 102, 172, /);
    expect(first.style.left).toBe(`${(260 / 512) * 100}%`);

    await user.click(chips[0]);
    const other = within(screen.getByTestId('explain-overlay')).getAllByTestId('heat-cell')[0];
    expect(other.style.backgroundColor).toMatch(/^rgba\(230, 97, 1, /);
    expect(rateForms()).toHaveLength(2);
  });

  it('test_an_answer_for_a_photo_changed_meanwhile_is_dropped_and_a_failure_is_one_line', async () => {
    let release: (r: Response) => void = () => {};
    const user = await scoredPhoto();
    rate = () => new Promise<Response>((resolve) => (release = resolve));
    await user.click(screen.getByRole('button', { name: 'Explain this score' }));
    expect(screen.getByRole('button', { name: 'Explaining…' })).toBeDisabled();
    // the gender changes while the explanation is on its way: the old answer is gone
    await user.click(screen.getByLabelText('Woman (W)'));
    release(jsonResponse({ model: 'crop-man', demo: false, results: [explained()] }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Explaining…' })).toBeNull());
    expect(screen.queryByTestId('explain-overlay')).toBeNull();
    expect(screen.queryByRole('meter')).toBeNull();

    rate = (_url, init) => {
      const form = init?.body as FormData;
      if (form.get('explain') === 'true') return jsonResponse({ detail: 'busy' }, 503, { 'Retry-After': '3' });
      return jsonResponse({ model: 'crop-woman', demo: false, results: [plain()] });
    };
    await user.click(screen.getByRole('button', { name: 'Rate' }));
    await screen.findByRole('meter');
    await user.click(screen.getByRole('button', { name: 'Explain this score' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The server is busy right now. Try again in 3 s.');
    expect(screen.getByRole('button', { name: 'Explain this score' })).toBeEnabled();
  });
});
