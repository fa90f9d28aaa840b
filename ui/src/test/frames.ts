// Builds video frame messages for tests, as the shell does (src-tauri/src/visit.rs).

import { vi } from 'vitest';

import { FRAME_HEADER } from '../lib/video';

/** A frame message as the shell builds it (src-tauri/src/visit.rs `encode_frame`). */
export function frameBytes(stream: number, seq: number, width: number, height: number, luma = 16): ArrayBuffer {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const buf = new ArrayBuffer(FRAME_HEADER + width * height + 2 * cw * ch);
  const view = new DataView(buf);
  [0x42, 0x53, 0x56, 0x31].forEach((b, i) => view.setUint8(i, b));
  view.setUint8(4, stream);
  view.setUint32(8, seq, true);
  view.setUint16(12, width, true);
  view.setUint16(14, height, true);
  const bytes = new Uint8Array(buf);
  bytes.fill(luma, FRAME_HEADER, FRAME_HEADER + width * height);
  bytes.fill(128, FRAME_HEADER + width * height);
  return buf;
}


/**
 * jsdom has no canvas: gives every canvas a 2D context (and no WebGL, so painters take their 2D
 * path) that records the width of each image put. Returns that record.
 */
export function mock2dCanvas(): number[] {
  const put: number[] = [];
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(function (
    this: HTMLCanvasElement,
    kind: string,
  ) {
    if (kind !== '2d') return null;
    return {
      createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
      putImageData: (img: { width: number }) => put.push(img.width),
    } as unknown as CanvasRenderingContext2D;
  } as unknown as typeof HTMLCanvasElement.prototype.getContext);
  return put;
}
