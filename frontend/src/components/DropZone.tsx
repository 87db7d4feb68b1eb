// The dashed area: Add photos, Take a photo (touch screens), drag and drop, and the photo count.

import { useRef, useState, type DragEvent } from 'react';
import { fill } from '../i18n';
import { useMessages } from '../messages';
import { FilePicker } from './FilePicker';

export interface DropZoneProps {
  /** False until the settings are read (the photo limit is not known before). */
  enabled: boolean;
  count: number;
  maxFiles: number;
  onFiles: (files: File[]) => void;
}

export function DropZone({ enabled, count, maxFiles, onFiles }: DropZoneProps) {
  const { m } = useMessages();
  const [dragging, setDragging] = useState(false);
  // dragenter/dragleave also fire for every child the pointer crosses: count them.
  const depth = useRef(0);

  const onDragEnter = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    depth.current += 1;
    setDragging(true);
  };
  const onDragLeave = () => {
    depth.current = Math.max(0, depth.current - 1);
    if (depth.current === 0) setDragging(false);
  };
  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    depth.current = 0;
    setDragging(false);
    onFiles(Array.from(event.dataTransfer.files));
  };

  return (
    <div
      className={dragging ? 'dropzone dragging' : 'dropzone'}
      data-testid="dropzone"
      onDragEnter={onDragEnter}
      onDragOver={(event) => event.preventDefault()}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <div className="pickers">
        <FilePicker id="file-input" label={m.addPhotos} accept="image/*,.heic,.heif" multiple disabled={!enabled} onFiles={onFiles} />
        <FilePicker
          id="camera-input"
          label={m.takePhoto}
          accept="image/*"
          capture="user"
          className="camera-only"
          disabled={!enabled}
          onFiles={onFiles}
        />
      </div>
      <p className="drop-text">{dragging ? m.dropNow : m.dropHere}</p>
      <p className="count" aria-live="polite">
        {fill(m.photoCount, { n: count, max: maxFiles })}
      </p>
    </div>
  );
}
