// The person box over the photo, in percent of the image the service saw (right at any display size).

import type { CSSProperties } from 'react';
import type { PhotoResult } from '../api';
import { useMessages } from '../messages';
import type { Photo } from '../photos';

const percent = (value: number, of: number) => `${Math.min(100, Math.max(0, (value / of) * 100))}%`;

export function PersonBox({ result, photo }: { result: PhotoResult; photo: Photo }) {
  const { m } = useMessages();
  const box = result.box;
  const [w, h] = result.image_size ?? [photo.width ?? 0, photo.height ?? 0];
  if (!box || !(w > 0) || !(h > 0)) return null;
  const style: CSSProperties = {
    left: percent(box[0], w),
    top: percent(box[1], h),
    width: percent(box[2] - box[0], w),
    height: percent(box[3] - box[1], h),
  };
  return <div className="person-box" style={style} title={m.personBox} data-testid="person-box" />;
}
