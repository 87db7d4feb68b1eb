// The person box over the photo, in percent of the image the service saw (right at any display size).

import type { CSSProperties } from 'react';
import type { PhotoResult } from '../api';
import { useMessages } from '../messages';
import type { Photo } from '../photos';

const percent = (value: number, of: number) => `${Math.min(100, Math.max(0, (value / of) * 100))}%`;

/** The size of the image the service received (boxes are in its pixels). */
export function servedSize(result: PhotoResult, photo: Photo): [number, number] {
  return result.image_size ?? [photo.width ?? 0, photo.height ?? 0];
}

/** A box in the served image's pixels as a position in percent over the displayed image. */
export function boxStyle(box: readonly [number, number, number, number], [w, h]: [number, number]): CSSProperties | null {
  if (!(w > 0) || !(h > 0)) return null;
  return {
    left: percent(box[0], w),
    top: percent(box[1], h),
    width: percent(box[2] - box[0], w),
    height: percent(box[3] - box[1], h),
  };
}

export function PersonBox({ result, photo }: { result: PhotoResult; photo: Photo }) {
  const { m } = useMessages();
  const style = result.box ? boxStyle(result.box, servedSize(result, photo)) : null;
  if (!style) return null;
  return <div className="person-box" style={style} title={m.personBox} data-testid="person-box" />;
}
