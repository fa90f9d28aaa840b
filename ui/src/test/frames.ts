// Builds video frame messages for tests, as the shell does (src-tauri/src/visit.rs).

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

