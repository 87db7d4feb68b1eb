import { describe, expect, it } from 'vitest';
import type { Explanation, FaceResult, PhotoResult } from './api';
import { cellColour, colourScale, explainTarget, gridCells, isExplanation, LOWERS_RGB, MAX_ALPHA, RAISES_RGB, signedPoints } from './explain';

const explanation = (heatmap: number[][], regions = [{ name: 'eyes', delta: 0.4 }]): Explanation => ({
  regions,
  heatmap,
  grid: heatmap.length,
  note: 'what the model reacts to, not what is beautiful',
});

const GRID4 = [
  [0.1, 0.2, 0.3, 0.4],
  [0.5, 0.6, 0.7, 0.8],
  [-0.1, -0.2, -0.3, -0.4],
  [-0.5, -0.6, -0.7, -1.2],
];

describe('the colour scale', () => {
  it('test_the_scale_is_the_largest_effect_rounded_up_to_a_tenth_with_a_floor', () => {
    expect(colourScale([0.341, -1.008, 0.2])).toBe(1.1);
    expect(colourScale([0.3, -0.1])).toBe(0.3);
    expect(colourScale([0.3000000000000001])).toBe(0.3);
    expect(colourScale([0, 0.01, -0.02])).toBe(0.1);
    expect(colourScale([])).toBe(0.1);
  });

  it('test_the_sign_picks_the_hue_and_the_size_the_opacity', () => {
    expect(cellColour(0.5, 0.5)).toBe(`rgba(${RAISES_RGB.join(', ')}, ${MAX_ALPHA})`);
    expect(cellColour(-0.5, 0.5)).toBe(`rgba(${LOWERS_RGB.join(', ')}, ${MAX_ALPHA})`);
    expect(cellColour(-0.25, 0.5)).toBe(`rgba(${LOWERS_RGB.join(', ')}, ${MAX_ALPHA / 2})`);
    // beyond the scale stays at full colour; zero is clear
    expect(cellColour(3, 0.5)).toBe(cellColour(0.5, 0.5));
    expect(cellColour(-3, 0.5)).toBe(cellColour(-0.5, 0.5));
    expect(cellColour(0, 0.5)).toMatch(/, 0\)$/);
    expect(cellColour(0.2, 0)).toMatch(/, 0\)$/);
  });

  it('test_signed_points_carry_a_true_minus_and_no_sign_on_zero', () => {
    expect(signedPoints(0.4219)).toBe('+0.42');
    expect(signedPoints(-0.05)).toBe('\u22120.05');
    expect(signedPoints(-0.001)).toBe('0.00');
    expect(signedPoints(0)).toBe('0.00');
  });
});

describe('the grid on the photo', () => {
  it('test_a_square_region_gives_grid_squared_cells_in_percent_row_by_row', () => {
    const cells = gridCells(explanation(GRID4), [100, 50, 300, 250], [400, 500]);
    expect(cells).toHaveLength(16);
    expect(cells[0]).toEqual({ row: 0, col: 0, value: 0.1, left: 25, top: 10, width: 12.5, height: 10 });
    expect(cells[6]).toMatchObject({ row: 1, col: 2, value: 0.7, left: 50, top: 20 });
    expect(cells[15]).toMatchObject({ row: 3, col: 3, value: -1.2, left: 62.5, top: 40 });
  });

  it('test_a_tall_region_is_padded_to_a_centred_square_and_the_padding_is_left_out', () => {
    // 100 wide, 200 tall: the model saw a 200-px square from x = 50 to 250; the photo holds x 100-200.
    const cells = gridCells(explanation(GRID4), [100, 0, 200, 200], [1000, 1000]);
    // columns 0 and 3 lie on the padding (x 50-100, 200-250): only columns 1 and 2 are drawn
    expect(new Set(cells.map((c) => c.col))).toEqual(new Set([1, 2]));
    expect(cells).toHaveLength(8);
    expect(cells[0]).toMatchObject({ row: 0, col: 1, left: 10, width: 5, top: 0, height: 5 });
  });

  it('test_a_region_past_the_photo_is_clipped_to_it_first', () => {
    // the service clips the region to the photo before padding it: [-50, 0, 150, 100] → [0, 0, 150, 100]
    const cells = gridCells(explanation([[1, 2, 3]]), [-50, 0, 150, 100], [150, 100]);
    expect(cells.length).toBe(0); // a 1-row heat map with 3 columns is not square: refused
    const three = gridCells(explanation(Array.from({ length: 3 }, () => [1, 2, 3])), [-50, 0, 150, 100], [150, 100]);
    // the square is 150 wide (x 0-150), 150 tall (y −25-125): the top and bottom rows are cut
    expect(three.filter((c) => c.row === 0)[0]).toMatchObject({ top: 0, height: 25 });
    expect(three.filter((c) => c.row === 1)[0]).toMatchObject({ top: 25, height: 50 });
    expect(three.every((c) => c.left >= 0 && c.left + c.width <= 100 + 1e-9 && c.top + c.height <= 100 + 1e-9)).toBe(true);
  });

  it('test_nothing_is_drawn_without_a_size_or_from_a_malformed_answer', () => {
    expect(gridCells(explanation(GRID4), [0, 0, 10, 10], [0, 0])).toEqual([]);
    expect(gridCells(explanation(GRID4), [20, 20, 10, 10], [100, 100])).toEqual([]);
    expect(gridCells({ ...explanation(GRID4), grid: 3 }, [0, 0, 10, 10], [100, 100])).toEqual([]);
    const broken = explanation([
      [0, 1],
      [0, Number.NaN],
    ]);
    expect(isExplanation(broken)).toBe(false);
    expect(isExplanation(null)).toBe(false);
    expect(isExplanation({ ...explanation(GRID4), regions: [{ name: 'eyes' }] })).toBe(false);
    expect(isExplanation(explanation(GRID4))).toBe(true);
  });
});

describe('what Explain is about', () => {
  const e = explanation(GRID4);
  const photo = (extra: Partial<PhotoResult>): PhotoResult => ({
    index: 0,
    score: 6,
    rate: 6,
    percentile: 50,
    uncertainty: null,
    box: [0, 0, 10, 10],
    region: [0, 0, 10, 10],
    image_size: [10, 10],
    error: null,
    ...extra,
  });
  const face = (score: number | null, extra: Partial<FaceResult> = {}): FaceResult => ({
    box: [1, 1, 5, 5],
    main: false,
    region: [0, 0, 8, 8],
    score,
    percentile: null,
    uncertainty: null,
    quality: null,
    error: null,
    ...extra,
  });

  it('test_the_photo_itself_without_faces_and_the_chosen_face_with_them', () => {
    expect(explainTarget(undefined, null)).toEqual({ scored: false, explanation: null, region: null, none: false });
    expect(explainTarget(photo({ explanation: e }), null)).toEqual({ scored: true, explanation: e, region: [0, 0, 10, 10], none: false });
    const group = photo({ score: null, faces: [face(5, { explanation: e }), face(null)], explained: true });
    expect(explainTarget(group, null).scored).toBe(false); // no face chosen yet
    expect(explainTarget(group, 0)).toEqual({ scored: true, explanation: e, region: [0, 0, 8, 8], none: false });
    expect(explainTarget(group, 1)).toMatchObject({ scored: false, explanation: null });
    // explained, yet nothing for this one (no landmarks): said so; a malformed one is not drawn
    expect(explainTarget(photo({ explained: true, explanation: null }), null).none).toBe(true);
    expect(explainTarget(photo({ explanation: { ...e, grid: 5 } }), null).explanation).toBeNull();
  });
});
