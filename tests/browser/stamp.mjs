// The browser-side reader of the stamp that bedside-codec's TestPattern draws
// (layout: crates/bedside-codec/src/synthetic.rs, module doc): a 16×8 grid of
// black/white cells at the top-left, cell size 16 px (8 px for pictures under
// 256×128), MSB-first bits of counter u32 BE ‖ capture µs u64 BE ‖ CRC-32 BE.
//
// `readStampInPage` is self-contained so playwright can run it in the page:
//   const stamp = await page.evaluate(readStampInPage, '[data-testid=remote-video]');
// It draws the video at its intrinsic size and returns
// { counter, captureMicros (a decimal string: u64 exceeds 2^53), width, height } or null.
//
//   node tests/browser/stamp.mjs    checks the reader against the Rust-pinned vector.

/** Reads the stamp from a <video> (or <canvas>) matched by `selector`. */
export function readStampInPage(selector) {
  const el = document.querySelector(selector);
  if (!el) return null;
  const w = el.videoWidth ?? el.width;
  const h = el.videoHeight ?? el.height;
  if (!w || !h) return null;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(el, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, Math.min(h, 128)).data;

  // From here on identical to decodeStamp below (kept inline: page.evaluate
  // ships only this function's source).
  const c = w >= 256 && h >= 128 ? 16 : w >= 128 && h >= 64 ? 8 : 0;
  if (!c) return null;
  const m = new Uint8Array(16);
  for (let row = 0; row < 8; row++) {
    for (let col = 0; col < 16; col++) {
      let sum = 0;
      for (let y = row * c + c / 4; y < row * c + (3 * c) / 4; y++) {
        for (let x = col * c + c / 4; x < col * c + (3 * c) / 4; x++) {
          const i = (y * w + x) * 4;
          sum += 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
        }
      }
      if (sum / ((c / 2) * (c / 2)) >= 128) {
        const bit = row * 16 + col;
        m[bit >> 3] |= 1 << (7 - (bit & 7));
      }
    }
  }
  let crc = 0xffffffff;
  for (let k = 0; k < 12; k++) {
    crc ^= m[k];
    for (let j = 0; j < 8; j++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  crc = (crc ^ 0xffffffff) >>> 0;
  const dv = new DataView(m.buffer);
  if (dv.getUint32(12) !== crc) return null;
  return { counter: dv.getUint32(0), captureMicros: dv.getBigUint64(4).toString(), width: w, height: h };
}

/** The same reader over an RGBA buffer (for Node; `rgba` covers at least the top 128 rows). */
export function decodeStamp(rgba, w, h) {
  const fake = {
    querySelector: () => ({ videoWidth: w, videoHeight: h }),
    createElement: () => ({
      getContext: () => ({ drawImage() {}, getImageData: () => ({ data: rgba }) }),
    }),
  };
  const saved = globalThis.document;
  globalThis.document = fake;
  try {
    return readStampInPage('x');
  } finally {
    globalThis.document = saved;
  }
}

/** Draws a stamp message as TestPattern does (grey levels 16/235 → RGB ≈ 0/255). */
export function drawStamp(message, w, h) {
  const c = w >= 256 && h >= 128 ? 16 : 8;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(90);
  for (let bit = 0; bit < 128; bit++) {
    const on = (message[bit >> 3] >> (7 - (bit & 7))) & 1;
    const row = Math.floor(bit / 16);
    const col = bit % 16;
    for (let y = row * c; y < row * c + c; y++) {
      for (let x = col * c; x < col * c + c; x++) {
        const i = (y * w + x) * 4;
        rgba[i] = rgba[i + 1] = rgba[i + 2] = on ? 255 : 0;
        rgba[i + 3] = 255;
      }
    }
  }
  return rgba;
}

// The vector pinned by bedside-codec's `stamp_message_known_answer`.
export const STAMP_VECTOR_HEX = '010203041122334455667788fafde765';

if (import.meta.url === `file://${process.argv[1]}`) {
  const msg = Uint8Array.from(STAMP_VECTOR_HEX.match(/../g), (b) => parseInt(b, 16));
  let failed = 0;
  for (const [w, h] of [[640, 480], [320, 240], [200, 100]]) {
    const got = decodeStamp(drawStamp(msg, w, h), w, h);
    const ok = got && got.counter === 0x01020304 && got.captureMicros === BigInt('0x1122334455667788').toString();
    if (!ok) failed++;
    console.log(`${w}x${h}: ${JSON.stringify(got)} ${ok ? 'ok' : 'FAIL'}`);
  }
  const bad = msg.slice();
  bad[15] ^= 1;
  if (decodeStamp(drawStamp(bad, 640, 480), 640, 480) !== null) failed++;
  process.exitCode = failed ? 1 : 0;
}
