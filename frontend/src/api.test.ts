import { describe, expect, it, vi } from 'vitest';
import { ApiError, fetchModels, ratePhotos } from './api';
import { MESSAGES, photoErrorMessage, requestErrorMessage } from './i18n';
import { MODELS, failed, jsonResponse, scored } from './test-helpers';

const photo = { blob: new Blob(['jpeg'], { type: 'image/jpeg' }), name: 'photo-1.jpg' };

async function failureOf(response: Response | Error): Promise<ApiError> {
  const fetchStub = vi.fn(async () => {
    if (response instanceof Error) throw response;
    return response;
  });
  try {
    await ratePhotos('', [photo], 'm', fetchStub);
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('ratePhotos did not fail');
}

describe('POST /v1/rate', () => {
  it('test_photos_and_gender_are_sent_as_multipart_to_v1_rate', async () => {
    const fetchStub = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) =>
      jsonResponse({ model: 'demo-man', demo: true, results: [scored(0, 6.4), failed(1, 'no_face', 'no face')] }),
    );
    const answer = await ratePhotos('https://api.example.org', [photo, photo], 'm', fetchStub);
    const [url, init] = fetchStub.mock.calls[0];
    expect(url).toBe('https://api.example.org/v1/rate');
    expect(init?.method).toBe('POST');
    const form = init?.body as FormData;
    expect(form.getAll('files')).toHaveLength(2);
    expect(form.get('gender')).toBe('m');
    expect(answer.results[0].score).toBe(6.4);
    expect(answer.results[1].error?.code).toBe('no_face');
  });

  it('test_a_413_is_reported_as_too_large', async () => {
    const error = await failureOf(jsonResponse({ detail: 'request body is 600 KB, above the limit of 20 KB' }, 413));
    expect(error.kind).toBe('too_large');
    expect(requestErrorMessage(MESSAGES.en, error)).toMatch(/too large.*413/i);
    expect(requestErrorMessage(MESSAGES.ru, error)).toMatch(/слишком большие.*413/);
  });

  it('test_a_4xx_shows_the_servers_detail', async () => {
    const error = await failureOf(jsonResponse({ detail: 'unknown gender x; use m or w' }, 404));
    expect(requestErrorMessage(MESSAGES.en, error)).toBe('The server refused the request (HTTP 404): unknown gender x; use m or w');
    const schema = await failureOf(jsonResponse({ detail: [{ loc: ['body', 'files'], msg: 'Field required' }] }, 422));
    expect(requestErrorMessage(MESSAGES.en, schema)).toContain('Field required');
  });

  it('test_a_5xx_says_the_server_failed', async () => {
    const error = await failureOf(new Response('<html><body>Bad Gateway</body></html>', { status: 502 }));
    expect(error.kind).toBe('server');
    expect(requestErrorMessage(MESSAGES.en, error)).toMatch(/server failed \(HTTP 502\)/);
  });

  it('test_a_busy_server_gives_its_retry_after', async () => {
    const error = await failureOf(jsonResponse({ detail: 'queue full' }, 429, { 'Retry-After': '3' }));
    expect(requestErrorMessage(MESSAGES.en, error)).toContain('3 s');
  });

  it('test_a_network_failure_says_the_server_cannot_be_reached', async () => {
    const error = await failureOf(new TypeError('Failed to fetch'));
    expect(error.kind).toBe('network');
    expect(requestErrorMessage(MESSAGES.en, error)).toMatch(/Cannot reach the server/);
  });

  it('test_an_unreadable_answer_is_an_error_not_a_silent_nothing', async () => {
    expect((await failureOf(new Response('ok', { status: 200 }))).kind).toBe('bad_answer');
    expect((await failureOf(jsonResponse({ predictions: [1] }))).kind).toBe('bad_answer');
  });

  it('test_a_request_that_hangs_times_out', async () => {
    const hanging = vi.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))),
    );
    await expect(ratePhotos('', [photo], 'w', hanging, 20)).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('test_per_photo_error_codes_have_plain_messages_in_both_languages', () => {
    expect(photoErrorMessage(MESSAGES.en, 'no_face', 'x')).toMatch(/No face found/);
    expect(photoErrorMessage(MESSAGES.ru, 'no_face', 'x')).toMatch(/не найдено лицо/);
    expect(photoErrorMessage(MESSAGES.en, 'something_new', 'the server says so')).toBe('the server says so');
  });
});

describe('GET /v1/models', () => {
  it('test_models_carry_name_gender_and_demo_flag', async () => {
    const models = await fetchModels('', vi.fn(async () => jsonResponse(MODELS)));
    expect(models).toEqual([
      { route: 'man', gender: 'm', name: 'demo-man', demo: true, notes: 'synthetic' },
      { route: 'woman', gender: 'w', name: 'demo-woman', demo: true, notes: 'synthetic' },
    ]);
  });
});
