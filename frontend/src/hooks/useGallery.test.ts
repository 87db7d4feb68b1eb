import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { PhotoResult } from '../api';
import type { CanvasApi } from '../compress';
import { MESSAGES } from '../i18n';
import type { Localized } from '../messages';
import { photoFile, scored, stubCanvas } from '../test-helpers';
import { EMPTY_GALLERY, galleryReducer, releasedPreviews, useGallery, type Gallery, type GalleryAction } from './useGallery';

function renderGallery(canvasApi: CanvasApi = stubCanvas({ width: 1000, height: 800 }).api, maxFiles = 4) {
  const errors: (Localized | null)[] = [];
  const hook = renderHook(() => useGallery({ canvasApi, maxFiles, showError: (e) => errors.push(e) }));
  return { ...hook, errors };
}

async function addReady(hook: ReturnType<typeof renderGallery>, names: string[]): Promise<string[]> {
  act(() => hook.result.current.add(names.map((name) => photoFile(name))));
  await waitFor(() => expect(hook.result.current.photos.every((p) => p.status === 'ready' && p.url)).toBe(true));
  return hook.result.current.photos.map((p) => p.url as string);
}

/** A canvas whose decoding waits until the test lets it go (a photo still being compressed). */
function heldCanvas() {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const inner = stubCanvas({ width: 1000, height: 800 }).api;
  const api: CanvasApi = { ...inner, decode: async (file) => (await held, inner.decode(file)) };
  return { api, release };
}

function reduce(actions: GalleryAction[], from: Gallery = EMPTY_GALLERY): Gallery {
  return actions.reduce(galleryReducer, from);
}

/** A scored result as the API client types it (the helper's box is a plain array). */
const scoredResult = (index: number, score: number) => scored(index, score) as PhotoResult;

const ready = (id: number, url: string): GalleryAction => ({ type: 'ready', id, url, blob: new Blob(['x']), width: 512, height: 410 });

describe('the gallery reducer', () => {
  it('test_added_photos_get_ids_that_are_never_reused', () => {
    const gallery = reduce([{ type: 'add', names: ['a.jpg', 'b.jpg'] }, { type: 'remove', id: 2 }, { type: 'add', names: ['c.jpg'] }]);
    expect(gallery.photos.map((p) => [p.id, p.name, p.status])).toEqual([
      [1, 'a.jpg', 'preparing'],
      [3, 'c.jpg', 'preparing'],
    ]);
  });

  it('test_results_land_on_their_photos_and_a_gender_change_forgets_them', () => {
    const gallery = reduce([{ type: 'add', names: ['a.jpg', 'b.jpg'] }, { type: 'results', byId: new Map([[2, scoredResult(0, 6.4)]]) }]);
    expect(gallery.photos.map((p) => p.result?.score ?? null)).toEqual([null, 6.4]);
    expect(galleryReducer(gallery, { type: 'forgetResults' }).photos.every((p) => p.result === undefined)).toBe(true);
  });

  it('test_a_new_preview_for_a_photo_frees_the_one_it_replaces', () => {
    const before = reduce([{ type: 'add', names: ['a.jpg', 'b.jpg'] }, ready(1, 'blob:old'), ready(2, 'blob:other')]);
    const action = ready(1, 'blob:new');
    const after = galleryReducer(before, action);
    expect(after.photos[0].url).toBe('blob:new');
    expect(releasedPreviews(before, action, after)).toEqual(['blob:old']);
  });

  it('test_a_preview_for_a_photo_already_removed_is_freed_at_once', () => {
    const before = reduce([{ type: 'add', names: ['a.jpg'] }, { type: 'remove', id: 1 }]);
    const action = ready(1, 'blob:late');
    const after = galleryReducer(before, action);
    expect(after).toBe(before);
    expect(releasedPreviews(before, action, after)).toEqual(['blob:late']);
  });
});

describe('useGallery', () => {
  it('test_removing_a_photo_frees_its_preview_and_only_its_own', async () => {
    const hook = renderGallery();
    const urls = await addReady(hook, ['a.jpg', 'b.jpg', 'c.jpg']);
    const revoke = vi.spyOn(URL, 'revokeObjectURL');
    act(() => hook.result.current.remove(hook.result.current.photos[1].id));
    expect(revoke.mock.calls).toEqual([[urls[1]]]);
    expect(hook.result.current.photos.map((p) => p.url)).toEqual([urls[0], urls[2]]);
  });

  it('test_clear_frees_every_preview', async () => {
    const hook = renderGallery();
    const urls = await addReady(hook, ['a.jpg', 'b.jpg']);
    const revoke = vi.spyOn(URL, 'revokeObjectURL');
    act(() => hook.result.current.setResults(new Map([[1, scoredResult(0, 5)]])));
    act(() => hook.result.current.forgetResults());
    expect(revoke).not.toHaveBeenCalled();
    act(() => hook.result.current.clear());
    expect(revoke.mock.calls.map(([url]) => url).sort()).toEqual([...urls].sort());
    expect(hook.result.current.photos).toEqual([]);
  });

  it('test_leaving_the_page_frees_every_preview', async () => {
    const hook = renderGallery();
    const urls = await addReady(hook, ['a.jpg', 'b.jpg']);
    const revoke = vi.spyOn(URL, 'revokeObjectURL');
    hook.unmount();
    expect(revoke.mock.calls.map(([url]) => url).sort()).toEqual([...urls].sort());
  });

  it('test_a_photo_compressed_after_its_removal_or_after_unmount_leaves_no_preview_behind', async () => {
    for (const leave of ['remove', 'unmount'] as const) {
      const canvas = heldCanvas();
      const hook = renderGallery(canvas.api);
      act(() => hook.result.current.add([photoFile('slow.jpg')]));
      if (leave === 'remove') act(() => hook.result.current.remove(hook.result.current.photos[0].id));
      else hook.unmount();
      const create = vi.spyOn(URL, 'createObjectURL');
      const revoke = vi.spyOn(URL, 'revokeObjectURL');
      canvas.release();
      await waitFor(() => expect(create).toHaveBeenCalledTimes(1));
      expect(revoke.mock.calls).toEqual([[create.mock.results[0].value]]);
      vi.restoreAllMocks();
    }
  });

  it('test_two_adds_in_one_tick_do_not_both_fit', () => {
    const hook = renderGallery(heldCanvas().api, 4);
    act(() => {
      hook.result.current.add(['1', '2', '3'].map((n) => photoFile(`${n}.jpg`)));
      hook.result.current.add(['4', '5', '6'].map((n) => photoFile(`${n}.jpg`)));
    });
    expect(hook.result.current.photos.map((p) => p.name)).toEqual(['1.jpg', '2.jpg', '3.jpg', '4.jpg']);
    expect(hook.errors.at(-1)?.(MESSAGES.en)).toBe('You can add at most 4 photos at once. 2 not added.');
  });

  it('test_refused_files_are_reported_and_a_remove_dismisses_the_report', () => {
    const hook = renderGallery(heldCanvas().api);
    act(() => hook.result.current.add([photoFile('me.jpg'), new File(['x'], 'notes.txt', { type: 'text/plain' })]));
    expect(hook.errors.at(-1)?.(MESSAGES.en)).toBe('notes.txt is not a photo; add a JPEG, PNG, WebP or HEIC image.');
    act(() => hook.result.current.remove(1));
    expect(hook.errors.at(-1)).toBeNull();
  });
});
