// The added photos as a list of cards (nothing while there are none).

import { useMessages } from '../messages';
import type { Photo } from '../photos';
import { PhotoCard } from './PhotoCard';

export interface GalleryProps {
  photos: readonly Photo[];
  /** The photos of the request that is running. */
  scoring: ReadonlySet<number>;
  onRemove: (id: number) => void;
  /** The photos whose explanation is being asked for. */
  explaining: ReadonlySet<number>;
  onExplain: (id: number) => void;
}

export function Gallery({ photos, scoring, onRemove, explaining, onExplain }: GalleryProps) {
  const { m } = useMessages();
  if (!photos.length) return null;
  return (
    <ul className="gallery" aria-label={m.photos}>
      {photos.map((photo, i) => (
        <PhotoCard
          key={photo.id}
          photo={photo}
          position={i + 1}
          scoring={scoring.has(photo.id)}
          onRemove={onRemove}
          explaining={explaining.has(photo.id)}
          onExplain={onExplain}
        />
      ))}
    </ul>
  );
}
