import { describe, expect, it } from 'vitest';
import { MAX_ORIGINAL_BYTES, requestKey, selectFiles, sendAsOriginal, sendBlock, type Photo } from './photos';

const file = (name: string, type = 'image/jpeg') => ({ name, type });
const ready = (id: number): Photo => ({ id, name: `${id}.jpg`, status: 'ready', blob: new Blob(['x']) });

describe('the photo limit', () => {
  it('test_a_fifth_photo_is_not_added_and_is_counted_as_skipped', () => {
    const picked = ['a', 'b', 'c', 'd', 'e'].map((n) => file(`${n}.jpg`));
    const selection = selectFiles(picked, 0, 4);
    expect(selection.accepted.map((f) => f.name)).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']);
    expect(selection.skipped).toBe(1);
  });

  it('test_the_limit_counts_photos_already_in_the_gallery', () => {
    const selection = selectFiles([file('a.jpg'), file('b.png', 'image/png')], 3, 4);
    expect(selection.accepted).toHaveLength(1);
    expect(selection.skipped).toBe(1);
    expect(selectFiles([file('a.jpg')], 4, 4)).toMatchObject({ accepted: [], skipped: 1 });
  });

  it('test_files_that_are_not_images_are_set_aside', () => {
    const selection = selectFiles([file('notes.txt', 'text/plain'), file('IMG_1.HEIC', ''), file('x.jpg')], 0, 4);
    expect(selection.notImages.map((f) => f.name)).toEqual(['notes.txt']);
    expect(selection.accepted.map((f) => f.name)).toEqual(['IMG_1.HEIC', 'x.jpg']);
  });
});

describe('the send button rules', () => {
  const base = { photos: [ready(1)], gender: 'm' as const, sending: false, lastSentKey: null };

  it('test_send_is_disabled_without_photos', () => {
    expect(sendBlock({ ...base, photos: [] })).toBe('photos');
  });

  it('test_send_is_disabled_without_a_gender', () => {
    expect(sendBlock({ ...base, gender: null })).toBe('gender');
  });

  it('test_send_is_disabled_while_a_photo_is_being_prepared_or_a_request_is_running', () => {
    expect(sendBlock({ ...base, photos: [ready(1), { id: 2, name: 'b', status: 'preparing' }] })).toBe('busy');
    expect(sendBlock({ ...base, sending: true })).toBe('busy');
  });

  it('test_send_is_disabled_when_only_unreadable_photos_are_left', () => {
    expect(sendBlock({ ...base, photos: [{ id: 3, name: 'x.heic', status: 'failed' }] })).toBe('photos');
  });

  it('test_send_is_enabled_with_photos_and_gender_and_disabled_again_until_something_changes', () => {
    expect(sendBlock(base)).toBeNull();
    const sent = requestKey(base.photos, 'm');
    expect(sendBlock({ ...base, lastSentKey: sent })).toBe('same');
    expect(sendBlock({ ...base, lastSentKey: sent, gender: 'w' })).toBeNull();
    expect(sendBlock({ ...base, lastSentKey: sent, photos: [ready(1), ready(2)] })).toBeNull();
  });
});

describe('photos the browser cannot decode', () => {
  it('test_only_heic_photos_of_a_sane_size_are_sent_as_originals', () => {
    expect(sendAsOriginal({ name: 'IMG_1.HEIC', type: '', size: 2_000_000 })).toBe(true);
    expect(sendAsOriginal({ name: 'x', type: 'image/heif', size: 10 })).toBe(true);
    expect(sendAsOriginal({ name: 'IMG_1.heic', type: 'image/heic', size: MAX_ORIGINAL_BYTES + 1 })).toBe(false);
    expect(sendAsOriginal({ name: 'broken.jpg', type: 'image/jpeg', size: 1000 })).toBe(false);
  });
});
