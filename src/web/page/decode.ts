// A dropped file → the model's clip at the file's natural size: `frames` frames `stride` apart from the middle of
// the video, as (count, H, W, 3) uint8 rgb. Animated images (GIF, APNG, animated WebP) go through WebCodecs'
// ImageDecoder, whose frames are whole composited pictures read back unscaled, so their pixels are the ones ffmpeg
// stores (`vhssl prepare`); anything else plays in a <video> element, sought frame by frame at the sample's rate.
import { UserError } from '../../errors.ts';

export interface Clip {
  /** (count, height, width, 3) uint8 rgb */
  frames: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** frames in the file (at the sample's rate, for a video) and the ones taken */
  decoded: number;
  indices: number[];
}

export interface ClipShape {
  frames: number;
  stride: number;
}

/** The central clip's frame indices: `frames` frames `stride` apart, starting at ⌊(n − span) / 2⌋. */
export function centralClip(what: string, n: number, clip: ClipShape): number[] {
  const span = (clip.frames - 1) * clip.stride + 1;
  if (n < span) {
    throw new UserError(what, `the video has ${n} frame${n === 1 ? '' : 's'}; the model needs ${span}`, `${clip.frames} frames ${clip.stride} apart`);
  }
  const start = Math.floor((n - span) / 2);
  return Array.from({ length: clip.frames }, (_, t) => start + t * clip.stride);
}

/** ImageDecoder's type for an animated-image file, by MIME type, else by extension; undefined for anything else. */
export function imageType(file: { name: string; type: string }): string | undefined {
  const byMime: Record<string, string> = { 'image/gif': 'image/gif', 'image/png': 'image/png', 'image/apng': 'image/png', 'image/webp': 'image/webp' };
  const byExtension: Record<string, string> = { gif: 'image/gif', png: 'image/png', apng: 'image/png', webp: 'image/webp' };
  const mime = file.type.toLowerCase();
  if (mime in byMime) return byMime[mime];
  if (mime !== '' && !mime.startsWith('image/')) return undefined;
  return byExtension[/\.([^./]+)$/.exec(file.name)?.[1]?.toLowerCase() ?? ''];
}

/** A 2-D canvas of one frame's size that reads its pixels back unscaled, as rgb. */
class PixelReader {
  private readonly g: OffscreenCanvasRenderingContext2D;

  constructor(readonly width: number, readonly height: number) {
    const g = new OffscreenCanvas(width, height).getContext('2d', { colorSpace: 'srgb', willReadFrequently: true });
    if (!g) throw new Error('decode: no 2-D OffscreenCanvas context');
    g.imageSmoothingEnabled = false;
    this.g = g;
  }

  /**
   * Draws `source` at (0, 0), unscaled, and writes its rgb to `out` at `at`. A fully transparent pixel becomes white,
   * as ffmpeg's GIF decoder paints transparency (its trans_color, 0x00ffffff) before alpha is dropped.
   */
  read(source: CanvasImageSource, out: Uint8Array, at: number): void {
    const { g, width, height } = this;
    g.clearRect(0, 0, width, height);
    g.drawImage(source, 0, 0);
    const rgba = g.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
    for (let p = 0, q = at; p < rgba.length; p += 4, q += 3) {
      const clear = rgba[p + 3] === 0;
      out[q] = clear ? 255 : rgba[p]!;
      out[q + 1] = clear ? 255 : rgba[p + 1]!;
      out[q + 2] = clear ? 255 : rgba[p + 2]!;
    }
  }
}

async function decodeImage(file: File, type: string, clip: ClipShape): Promise<Clip> {
  if (typeof ImageDecoder === 'undefined') throw new UserError(file.name, 'this browser cannot decode animated images (no WebCodecs ImageDecoder)', 'use Chrome or Edge, or drop a video file');
  if (!(await ImageDecoder.isTypeSupported(type))) throw new UserError(file.name, `this browser cannot decode ${type}`);
  const decoder = new ImageDecoder({ data: await file.arrayBuffer(), type, colorSpaceConversion: 'none', preferAnimation: true });
  try {
    await decoder.tracks.ready;
    await decoder.completed;
    const track = decoder.tracks.selectedTrack;
    if (!track) throw new UserError(file.name, 'no image track');
    const indices = centralClip(file.name, track.frameCount, clip);
    let reader: PixelReader | undefined;
    let frames = new Uint8Array(0);
    for (const [t, i] of indices.entries()) {
      const { image } = await decoder.decode({ frameIndex: i, completeFramesOnly: true });
      try {
        const [width, height] = [image.displayWidth, image.displayHeight];
        if (!reader) {
          reader = new PixelReader(width, height);
          frames = new Uint8Array(indices.length * height * width * 3);
        } else if (width !== reader.width || height !== reader.height) {
          throw new UserError(file.name, `frame ${i} is ${width}×${height}, frame ${indices[0]} was ${reader.width}×${reader.height}`);
        }
        reader.read(image, frames, t * height * width * 3);
      } finally {
        image.close();
      }
    }
    return { frames, count: indices.length, height: reader!.height, width: reader!.width, decoded: track.frameCount, indices };
  } finally {
    decoder.close();
  }
}

/** Resolves on `ok`, rejects on the element's `error` or after `ms`. */
function event(video: HTMLVideoElement, ok: 'loadedmetadata' | 'seeked', what: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (f: () => void) => () => {
      clearTimeout(timer);
      video.removeEventListener(ok, onOk);
      video.removeEventListener('error', onError);
      f();
    };
    const onOk = done(resolve);
    const onError = done(() => reject(new UserError(what, `this browser cannot play it (${video.error?.message || `media error ${video.error?.code ?? '?'}`})`, 'try an MP4 (H.264) or WebM, or an animated GIF')));
    const timer = setTimeout(done(() => reject(new UserError(what, `no '${ok}' from the video element after ${ms / 1000} s`))), ms);
    video.addEventListener(ok, onOk);
    video.addEventListener('error', onError);
  });
}

async function decodeVideo(file: File, fps: number, clip: ClipShape): Promise<Clip> {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.preload = 'auto';
  try {
    const loaded = event(video, 'loadedmetadata', file.name);
    video.src = url;
    await loaded;
    if (!Number.isFinite(video.duration) || video.duration <= 0) throw new UserError(file.name, `the video reports no length (duration ${video.duration})`, 'a live or unfinished recording? re-encode it');
    const [width, height] = [video.videoWidth, video.videoHeight];
    if (width === 0 || height === 0) throw new UserError(file.name, 'no picture (an audio-only file?)');
    // Frame i covers [i / fps, (i + 1) / fps); the 1e-6 keeps 2 s × 25 from flooring to 49.
    const n = Math.floor(video.duration * fps + 1e-6);
    const indices = centralClip(file.name, n, clip);
    const reader = new PixelReader(width, height);
    const frames = new Uint8Array(indices.length * height * width * 3);
    for (const [t, i] of indices.entries()) {
      const sought = event(video, 'seeked', `${file.name} at ${((i + 0.5) / fps).toFixed(3)} s`);
      video.currentTime = (i + 0.5) / fps;
      await sought;
      reader.read(video, frames, t * height * width * 3);
    }
    return { frames, count: indices.length, height, width, decoded: n, indices };
  } finally {
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}

/** Decodes `file`'s central clip; `fps` samples a video (the sample's rate). Errors about the file are UserErrors. */
export async function decodeClip(file: File, clip: ClipShape, fps: number): Promise<Clip> {
  const type = imageType(file);
  if (type) return decodeImage(file, type, clip);
  if (file.type.startsWith('image/')) throw new UserError(file.name, `a still image (${file.type})`, 'drop a video or an animated GIF, PNG or WebP');
  return decodeVideo(file, fps, clip);
}
