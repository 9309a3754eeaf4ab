// Small pictures of videos: one frame (of any size) as a thumbnail canvas, and a sample video as a looping animated
// thumbnail. One requestAnimationFrame loop advances every animated thumbnail still in the document.

/** Frame t of (count, height, width, 3) rgb as ImageData. */
export function frameImage(frames: Uint8Array, t: number, height: number, width: number): ImageData {
  const image = new ImageData(width, height);
  const rgba = image.data;
  for (let p = 0, q = t * height * width * 3; p < rgba.length; p += 4, q += 3) {
    rgba[p] = frames[q]!;
    rgba[p + 1] = frames[q + 1]!;
    rgba[p + 2] = frames[q + 2]!;
    rgba[p + 3] = 255;
  }
  return image;
}

/** Frame t with its longer side `side` CSS pixels: a bitmap scaled down to that at the device's pixel ratio, or
 * the frame itself, shown pixelated, when it is smaller. */
export function frameThumbnail(frames: Uint8Array, t: number, height: number, width: number, side: number): HTMLCanvasElement {
  const full = new OffscreenCanvas(width, height);
  full.getContext('2d')!.putImageData(frameImage(frames, t, height, width), 0, 0);
  const scale = side / Math.max(width, height);
  const bitmap = Math.min(1, scale * (globalThis.devicePixelRatio || 1));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * bitmap));
  canvas.height = Math.max(1, Math.round(height * bitmap));
  canvas.style.width = `${Math.round(width * scale)}px`;
  canvas.style.height = `${Math.round(height * scale)}px`;
  if (bitmap === 1) canvas.className = 'pixelated';
  const g = canvas.getContext('2d')!;
  g.imageSmoothingQuality = 'high';
  g.drawImage(full, 0, 0, canvas.width, canvas.height);
  return canvas;
}

interface Playing {
  canvas: HTMLCanvasElement;
  images: ImageData[];
  fps: number;
  start: number;
  shown: number;
}

const playing = new Set<Playing>();
const still = globalThis.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;

function tick(now: number): void {
  for (const p of playing) {
    if (!p.canvas.isConnected && now - p.start > 1000) {
      playing.delete(p);
      continue;
    }
    // A frame's timestamp can precede the thumbnail's start.
    const t = Math.floor((Math.max(0, now - p.start) / 1000) * p.fps) % p.images.length;
    if (t !== p.shown) {
      p.canvas.getContext('2d')!.putImageData(p.images[t]!, 0, 0);
      p.shown = t;
    }
  }
  if (playing.size > 0) requestAnimationFrame(tick);
}

/**
 * A canvas of the video's natural size (CSS scales it to `side` px on its longer side, pixelated) that loops through
 * its frames at `fps`; the middle frame, still, when the reader prefers reduced motion.
 */
export function animatedThumbnail(frames: Uint8Array, count: number, height: number, width: number, fps: number, side: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const scale = side / Math.max(width, height);
  canvas.style.width = `${Math.round(width * scale)}px`;
  canvas.style.height = `${Math.round(height * scale)}px`;
  canvas.className = 'pixelated';
  const images = Array.from({ length: count }, (_, t) => frameImage(frames, t, height, width));
  canvas.getContext('2d')!.putImageData(images[still ? count >> 1 : 0]!, 0, 0);
  if (still || count < 2) return canvas;
  if (playing.size === 0) requestAnimationFrame(tick);
  playing.add({ canvas, images, fps, start: performance.now(), shown: 0 });
  return canvas;
}
