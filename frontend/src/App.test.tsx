import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { MODELS, failed, jsonResponse, photoFile, routedFetch, scored, stubCanvas, type Route } from './test-helpers';

let rate: Route;
let config: Record<string, unknown>;
let fetchStub: ReturnType<typeof routedFetch>;

beforeEach(() => {
  localStorage.clear();
  config = { apiBaseUrl: '', maxFiles: 4, analyticsId: null };
  rate = () => jsonResponse({ model: 'demo-man', demo: true, results: [scored(0, 6.4)] });
  fetchStub = routedFetch({
    'config.json': () => jsonResponse(config),
    '/v1/models': () => jsonResponse(MODELS),
    '/v1/rate': (url, init) => rate(url, init),
  });
  vi.stubGlobal('fetch', fetchStub);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function rateCalls() {
  return fetchStub.mock.calls.filter(([url]) => String(url).endsWith('/v1/rate'));
}

async function renderPage(lang: 'en' | 'ru' = 'en') {
  const user = userEvent.setup();
  const canvas = stubCanvas({ width: 1000, height: 800 });
  render(<App canvasApi={canvas.api} initialLang={lang} />);
  const input = await screen.findByLabelText(lang === 'en' ? 'Add photos' : 'Добавить фото');
  await waitFor(() => expect(input).toBeEnabled());
  return { user, input, canvas };
}

const sendButton = () => screen.getByRole('button', { name: /^(Rate|Rating…)$/ });

describe('the page', () => {
  it('test_send_is_enabled_only_with_photos_and_a_gender_and_after_a_change', async () => {
    const { user, input } = await renderPage();
    expect(sendButton()).toBeDisabled();
    expect(screen.getByText('Add at least one photo.')).toBeInTheDocument();

    await user.upload(input, photoFile('me.jpg'));
    await screen.findByAltText('Photo 1: me.jpg');
    expect(sendButton()).toBeDisabled();
    expect(screen.getByText('Choose M or W.')).toBeInTheDocument();

    await user.click(screen.getByLabelText('Man (M)'));
    expect(sendButton()).toBeEnabled();

    await user.click(sendButton());
    expect(await screen.findByRole('meter', { name: 'Score' })).toHaveAttribute('aria-valuenow', '6.4');
    expect(sendButton()).toBeDisabled();
    expect(screen.getByText(/already rated/)).toBeInTheDocument();

    await user.click(screen.getByLabelText('Woman (W)'));
    expect(sendButton()).toBeEnabled();
  });

  it('test_a_score_bar_percentile_and_person_box_are_shown_for_a_scored_photo', async () => {
    const { user, input } = await renderPage();
    await user.upload(input, photoFile('me.jpg'));
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    const meter = await screen.findByRole('meter', { name: 'Score' });
    expect(meter).toHaveTextContent('6.4');
    expect(meter).toHaveAttribute('aria-valuetext', '6.4 out of 10');
    expect(screen.getByText('Higher than 73% of the photos the model was trained on')).toBeInTheDocument();
    // box [10,20,110,220] in a 512×410 compressed photo, drawn in percent of the shown image
    const box = screen.getByTestId('person-box');
    expect(box.style.left).toBe(`${(10 / 512) * 100}%`);
    expect(box.style.top).toBe(`${(20 / 410) * 100}%`);
    expect(box.style.width).toBe(`${(100 / 512) * 100}%`);
    expect(box.style.height).toBe(`${(200 / 410) * 100}%`);
  });

  it('test_the_compressed_jpeg_is_what_is_sent', async () => {
    const { user, input, canvas } = await renderPage();
    await user.upload(input, [photoFile('a.jpg'), photoFile('b.png', 'image/png')]);
    await user.click(screen.getByLabelText('Woman (W)'));
    rate = () => jsonResponse({ model: 'demo-woman', demo: true, results: [scored(0, 5), scored(1, 7)] });
    await user.click(sendButton());
    await waitFor(() => expect(screen.getAllByRole('meter')).toHaveLength(2));
    expect(canvas.calls.canvases).toEqual([
      { width: 512, height: 410 },
      { width: 512, height: 410 },
    ]);
    const form = rateCalls()[0][1]?.body as FormData;
    const files = form.getAll('files') as File[];
    expect(files.map((f) => [f.name, f.type])).toEqual([
      ['photo-1.jpg', 'image/jpeg'],
      ['photo-2.jpg', 'image/jpeg'],
    ]);
    expect(form.get('gender')).toBe('w');
  });

  it('test_a_fifth_photo_gives_a_clear_message_and_is_not_added', async () => {
    const { user, input } = await renderPage();
    await user.upload(input, ['1', '2', '3', '4', '5'].map((n) => photoFile(`${n}.jpg`)));
    expect(await screen.findByRole('alert')).toHaveTextContent('You can add at most 4 photos at once. 1 not added.');
    expect(screen.getAllByTestId('photo-card')).toHaveLength(4);
    expect(rateCalls()).toHaveLength(0);
  });

  it('test_the_photo_limit_comes_from_the_settings_file', async () => {
    config = { maxFiles: 2 };
    const { user, input } = await renderPage();
    expect(screen.getByText('You can send up to 2 photos at once.')).toBeInTheDocument();
    await user.upload(input, ['1', '2', '3'].map((n) => photoFile(`${n}.jpg`)));
    expect(screen.getAllByTestId('photo-card')).toHaveLength(2);
    expect(screen.getByRole('alert')).toHaveTextContent('at most 2 photos');
  });

  it('test_the_page_loads_no_analytics_unless_the_settings_file_sets_a_counter', async () => {
    await renderPage();
    expect(document.querySelector('script[src*="mc.yandex.ru"]')).toBeNull();
    cleanup();
    config = { analyticsId: 4242 };
    await renderPage();
    expect(document.querySelectorAll('script[src*="mc.yandex.ru"]')).toHaveLength(1);
    document.head.innerHTML = '';
    delete window.ym;
  });

  it('test_the_api_base_url_comes_from_the_settings_file', async () => {
    config = { apiBaseUrl: 'https://api.example.org/' };
    const { user, input } = await renderPage();
    await user.upload(input, photoFile());
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    await screen.findByRole('meter');
    expect(rateCalls()[0][0]).toBe('https://api.example.org/v1/rate');
    expect(fetchStub.mock.calls.map(([url]) => String(url))).toContain('https://api.example.org/v1/models');
  });

  it('test_a_413_shows_the_too_large_message_and_send_can_be_retried', async () => {
    rate = () => jsonResponse({ detail: 'request body too large' }, 413);
    const { user, input } = await renderPage();
    await user.upload(input, photoFile());
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    expect(await screen.findByText(/too large for the server \(HTTP 413\)/)).toBeInTheDocument();
    expect(sendButton()).toBeEnabled();
  });

  it('test_a_network_failure_shows_a_message', async () => {
    rate = () => Promise.reject(new TypeError('Failed to fetch'));
    const { user, input } = await renderPage();
    await user.upload(input, photoFile());
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    expect(await screen.findByRole('alert')).toHaveTextContent('Cannot reach the server');
  });

  it('test_a_per_photo_error_is_shown_while_the_other_photo_gets_its_score', async () => {
    rate = () => jsonResponse({ model: 'demo-man', demo: true, results: [failed(0, 'no_face', 'no face found'), scored(1, 8.1)] });
    const { user, input } = await renderPage();
    await user.upload(input, [photoFile('wall.png', 'image/png'), photoFile('me.jpg')]);
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    const cards = await screen.findAllByTestId('photo-card');
    expect(await within(cards[0]).findByTestId('photo-error')).toHaveTextContent('No face found on this photo');
    expect(within(cards[1]).getByRole('meter')).toHaveTextContent('8.1');
  });

  it('test_nothing_is_sent_twice_on_a_double_click', async () => {
    let answer: (r: Response) => void = () => undefined;
    rate = () => new Promise<Response>((resolve) => (answer = resolve));
    const { user, input } = await renderPage();
    await user.upload(input, photoFile());
    await user.click(screen.getByLabelText('Man (M)'));
    await user.dblClick(sendButton());
    await user.click(sendButton());
    expect(sendButton()).toBeDisabled();
    expect(sendButton()).toHaveAttribute('aria-busy', 'true');
    expect(screen.getAllByText('Rating…').length).toBeGreaterThan(0);
    answer(jsonResponse({ model: 'demo-man', demo: true, results: [scored(0, 6.4)] }));
    await screen.findByRole('meter');
    expect(rateCalls()).toHaveLength(1);
  });

  it('test_the_model_name_and_demo_notice_are_shown', async () => {
    const { user } = await renderPage();
    await user.click(screen.getByLabelText('Woman (W)'));
    expect(await screen.findByText('Model: demo-woman')).toBeInTheDocument();
    expect(screen.getByText(/demo model trained on synthetic images/)).toBeInTheDocument();
  });

  it('test_clear_removes_every_photo_and_remove_takes_one', async () => {
    const { user, input } = await renderPage();
    await user.upload(input, [photoFile('a.jpg'), photoFile('b.jpg'), photoFile('c.jpg')]);
    await user.click(screen.getByRole('button', { name: 'Remove photo 2' }));
    expect(screen.getAllByTestId('photo-card')).toHaveLength(2);
    expect(screen.queryByAltText('Photo 2: b.jpg')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Clear' }));
    expect(screen.queryAllByTestId('photo-card')).toHaveLength(0);
    expect(screen.getByText('0 of 4 photos')).toBeInTheDocument();
  });

  it('test_photos_dropped_on_the_page_are_added_and_a_dropped_non_image_is_refused_by_name', async () => {
    await renderPage();
    const zone = screen.getByTestId('dropzone');
    fireEvent.dragEnter(zone, { dataTransfer: { files: [] } });
    expect(screen.getByText('Drop the photos to add them')).toBeInTheDocument();
    const files = [photoFile('dropped.jpg'), new File(['hello'], 'notes.txt', { type: 'text/plain' })];
    fireEvent.drop(zone, { dataTransfer: { files } });
    expect(await screen.findByAltText('Photo 1: dropped.jpg')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('notes.txt is not a photo');
    expect(screen.getAllByTestId('photo-card')).toHaveLength(1);
    expect(screen.getByText('or drop photos here')).toBeInTheDocument();
  });

  it('test_a_photo_the_browser_cannot_open_is_marked_and_not_sent', async () => {
    const user = userEvent.setup();
    render(<App canvasApi={stubCanvas({ width: 1, height: 1 }, true).api} initialLang="en" />);
    const input = await screen.findByLabelText('Add photos');
    await waitFor(() => expect(input).toBeEnabled());
    await user.upload(input, photoFile('broken.jpg', 'image/jpeg'));
    expect(await screen.findByText(/This browser cannot open this photo/)).toBeInTheDocument();
    await user.click(screen.getByLabelText('Man (M)'));
    expect(sendButton()).toBeDisabled();
  });

  it('test_a_heic_photo_the_browser_cannot_decode_is_sent_as_the_original_file', async () => {
    const user = userEvent.setup();
    render(<App canvasApi={stubCanvas({ width: 1, height: 1 }, true).api} initialLang="en" />);
    const input = await screen.findByLabelText('Add photos');
    await waitFor(() => expect(input).toBeEnabled());
    const heic = new File([new Uint8Array(300)], 'IMG_0001.HEIC', { type: 'image/heic' });
    await user.upload(input, heic);
    expect(await screen.findByText(/No preview in this browser/)).toBeInTheDocument();
    await user.click(screen.getByLabelText('Man (M)'));
    await user.click(sendButton());
    expect(await screen.findByRole('meter')).toHaveTextContent('6.4');
    expect(screen.queryByTestId('person-box')).toBeNull();
    const sent = (rateCalls()[0][1]?.body as FormData).get('files') as File;
    expect(sent.name).toBe('photo-1.HEIC');
    expect(sent.size).toBe(300);
  });

  it('test_the_language_switch_changes_every_text_and_is_remembered', async () => {
    const { user } = await renderPage('en');
    await user.click(screen.getByRole('button', { name: 'Русский' }));
    expect(screen.getByLabelText('Добавить фото')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Оценить' })).toBeDisabled();
    expect(document.documentElement.lang).toBe('ru');
    expect(screen.getByText(/не воспринимайте результат всерьёз/)).toBeInTheDocument();
    expect(localStorage.getItem('pretty-meter.lang')).toBe('ru');
  });

  it('test_every_control_is_labelled_and_reachable_by_keyboard', async () => {
    const { user } = await renderPage();
    for (const name of ['English', 'Русский']) expect(screen.getByRole('button', { name })).toBeInTheDocument();
    expect(screen.getByRole('group', { name: 'Who is on the photos?' })).toBeInTheDocument();
    await user.tab();
    expect(document.activeElement).toHaveAccessibleName('English');
    await user.tab();
    await user.tab();
    expect(document.activeElement).toBe(screen.getByLabelText('Add photos'));
    await user.tab();
    await user.tab();
    expect(document.activeElement).toBe(screen.getByLabelText('Man (M)'));
    await user.keyboard(' ');
    expect(screen.getByLabelText('Man (M)')).toBeChecked();
  });
});
