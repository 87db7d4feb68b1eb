import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../config';
import { jsonResponse, photoFile, routedFetch, scored, stubCanvas } from '../test-helpers';
import { useGallery } from './useGallery';
import { useRating } from './useRating';

let fetchStub: ReturnType<typeof routedFetch>;

beforeEach(() => {
  fetchStub = routedFetch({ '/v1/rate': () => jsonResponse({ model: 'demo-man', demo: true, results: [scored(0, 6.4)] }) });
  vi.stubGlobal('fetch', fetchStub);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function renderRating() {
  const canvasApi = stubCanvas({ width: 1000, height: 800 }).api;
  return renderHook(() => {
    const gallery = useGallery({ canvasApi, maxFiles: 4, showError: () => undefined });
    const rating = useRating({ settings: DEFAULT_SETTINGS, models: null, gallery, showError: () => undefined });
    return { gallery, rating };
  });
}

describe('useRating', () => {
  it('test_two_sends_in_one_tick_make_one_request', async () => {
    const hook = renderRating();
    act(() => hook.result.current.gallery.add([photoFile('me.jpg')]));
    await waitFor(() => expect(hook.result.current.gallery.photos[0].status).toBe('ready'));
    act(() => hook.result.current.rating.chooseGender('m'));
    expect(hook.result.current.rating.block).toBeNull();
    await act(async () => {
      const { send } = hook.result.current.rating;
      await Promise.all([send(), send()]);
    });
    expect(fetchStub).toHaveBeenCalledTimes(1);
    expect(hook.result.current.gallery.photos[0].result?.score).toBe(6.4);
    expect(hook.result.current.rating.model).toEqual({ name: 'demo-man', demo: true });
    expect(hook.result.current.rating.block).toBe('same');
  });
});
