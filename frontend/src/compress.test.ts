import { describe, expect, it } from 'vitest';
import { CompressError, JPEG_QUALITY, MAX_SIDE, compressImage, fitWithin } from './compress';
import { stubCanvas } from './test-helpers';

describe('fitWithin (the size math of compression)', () => {
  it('test_a_landscape_photo_is_bounded_to_512_on_the_long_side_keeping_aspect_ratio', () => {
    const size = fitWithin(4000, 3000);
    expect(size).toEqual({ width: 512, height: 384 });
    expect(size.width / size.height).toBeCloseTo(4000 / 3000, 2);
  });

  it('test_a_portrait_photo_is_bounded_on_its_height', () => {
    expect(fitWithin(3024, 4032)).toEqual({ width: 384, height: 512 });
    expect(fitWithin(500, 600)).toEqual({ width: 427, height: 512 });
  });

  it('test_a_small_photo_is_never_enlarged', () => {
    expect(fitWithin(320, 240)).toEqual({ width: 320, height: 240 });
    expect(fitWithin(512, 512)).toEqual({ width: 512, height: 512 });
  });

  it('test_every_size_stays_within_the_bound_and_close_to_the_aspect_ratio', () => {
    for (const [w, h] of [
      [513, 1],
      [1, 9999],
      [777, 333],
      [1023, 1024],
      [6000, 4000],
      [2048, 2047],
    ]) {
      const size = fitWithin(w, h, MAX_SIDE);
      expect(Math.max(size.width, size.height)).toBeLessThanOrEqual(MAX_SIDE);
      expect(Math.max(size.width, size.height)).toBe(MAX_SIDE);
      expect(Math.min(size.width, size.height)).toBeGreaterThanOrEqual(1);
      // rounding to whole pixels moves the ratio by at most one pixel's worth
      expect(Math.abs(size.width - (size.height * w) / h)).toBeLessThanOrEqual(1 + w / h);
    }
  });

  it('test_a_zero_size_is_refused', () => {
    expect(() => fitWithin(0, 100)).toThrow(RangeError);
  });
});

describe('compressImage (canvas path with a stubbed browser canvas)', () => {
  it('test_the_photo_is_drawn_at_the_fitted_size_and_encoded_as_jpeg', async () => {
    const { api, calls } = stubCanvas({ width: 2000, height: 1000 });
    const result = await compressImage(new Blob(['x']), {}, api);
    expect(result).toMatchObject({ width: 512, height: 256 });
    expect(result.blob.type).toBe('image/jpeg');
    expect(calls.canvases).toEqual([{ width: 512, height: 256 }]);
    expect(calls.draws).toEqual([{ width: 512, height: 256 }]);
    expect(calls.encodes).toEqual([{ type: 'image/jpeg', quality: JPEG_QUALITY }]);
    expect(calls.closed).toBe(1);
  });

  it('test_an_undecodable_file_raises_a_compress_error', async () => {
    const { api } = stubCanvas({ width: 1, height: 1 }, true);
    await expect(compressImage(new Blob(['x']), {}, api)).rejects.toBeInstanceOf(CompressError);
  });

  it('test_by_default_a_photo_is_encoded_at_the_documented_jpeg_quality_0_9', async () => {
    // docs/web.md: quality 0.9 keeps scores within ~0.2 at about a third of the bytes of 0.99
    const { api, calls } = stubCanvas({ width: 600, height: 500 });
    await compressImage(new Blob(['x']), {}, api);
    expect(calls.encodes).toEqual([{ type: 'image/jpeg', quality: 0.9 }]);
  });

  it('test_a_quality_and_size_given_by_the_caller_are_the_ones_used', async () => {
    const { api, calls } = stubCanvas({ width: 2000, height: 1000 });
    const result = await compressImage(new Blob(['x']), { maxSide: 256, quality: 0.5 }, api);
    expect(result).toMatchObject({ width: 256, height: 128 });
    expect(calls.canvases).toEqual([{ width: 256, height: 128 }]);
    expect(calls.encodes).toEqual([{ type: 'image/jpeg', quality: 0.5 }]);
  });
});
