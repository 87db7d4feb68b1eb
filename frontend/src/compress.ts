// In-browser photo compression: EXIF-upright, at most 512 px on the long side, JPEG.

export const MAX_SIDE = 512;
/** See docs/web.md: invisible loss at 512 px, about a third of the bytes of 0.99. */
export const JPEG_QUALITY = 0.9;

export interface Size {
  width: number;
  height: number;
}

/** Scale (width, height) down, never up, so the long side is at most maxSide; keeps the aspect ratio. */
export function fitWithin(width: number, height: number, maxSide: number = MAX_SIDE): Size {
  if (!(width > 0) || !(height > 0)) {
    throw new RangeError(`image size must be positive, got ${width}×${height}`);
  }
  const scale = Math.min(1, maxSide / Math.max(width, height));
  if (scale === 1) return { width: Math.round(width), height: Math.round(height) };
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

export interface Compressed extends Size {
  blob: Blob;
}

/** The browser APIs compression needs; tests replace them because jsdom has no canvas. */
export interface CanvasApi {
  decode(file: Blob): Promise<{ source: CanvasImageSource; width: number; height: number; close(): void }>;
  createCanvas(width: number, height: number): HTMLCanvasElement;
}

async function decodeWithBitmap(file: Blob) {
  // 'from-image' applies the EXIF orientation, so phone photos come out upright.
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
}

async function decodeWithImg(file: Blob) {
  // Browsers apply EXIF orientation to <img> by default (CSS image-orientation: from-image).
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.decoding = 'async';
    img.src = url;
    await img.decode();
    return { source: img, width: img.naturalWidth, height: img.naturalHeight, close: () => undefined };
  } finally {
    URL.revokeObjectURL(url);
  }
}

export const browserCanvas: CanvasApi = {
  decode: (file) => (typeof createImageBitmap === 'function' ? decodeWithBitmap(file) : decodeWithImg(file)),
  createCanvas(width, height) {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    return canvas;
  },
};

export class CompressError extends Error {}

/** Decode a photo, shrink it to fit MAX_SIDE and encode it as JPEG. */
export async function compressImage(
  file: Blob,
  { maxSide = MAX_SIDE, quality = JPEG_QUALITY }: { maxSide?: number; quality?: number } = {},
  api: CanvasApi = browserCanvas,
): Promise<Compressed> {
  let decoded;
  try {
    decoded = await api.decode(file);
  } catch {
    throw new CompressError('decode');
  }
  try {
    const size = fitWithin(decoded.width, decoded.height, maxSide);
    const canvas = api.createCanvas(size.width, size.height);
    const context = canvas.getContext('2d');
    if (!context) throw new CompressError('canvas');
    // JPEG has no alpha: paint transparent areas white rather than black.
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, size.width, size.height);
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = 'high';
    context.drawImage(decoded.source, 0, 0, size.width, size.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
    if (!blob) throw new CompressError('encode');
    return { blob, ...size };
  } finally {
    decoded.close();
  }
}
