// Video frames from the shell (`src-tauri/src/visit.rs`): parsing the binary message and
// painting it on a canvas — WebGL (three luminance textures, BT.601 YUV→RGB in a fragment
// shader) where the webview has it, else 2D `putImageData` after converting here.

/** `BSV1`. */
const MAGIC = [0x42, 0x53, 0x56, 0x31];
export const FRAME_HEADER = 16;

export interface VideoFrame {
  /** 0 remote (the patient), 1 self view. */
  stream: number;
  seq: number;
  width: number;
  height: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

/** Parses one frame message; `null` for anything malformed (never throws). */
export function parseFrame(buffer: ArrayBuffer): VideoFrame | null {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < FRAME_HEADER) return null;
  const head = new DataView(buffer, 0, FRAME_HEADER);
  for (let i = 0; i < 4; i++) if (head.getUint8(i) !== MAGIC[i]) return null;
  const stream = head.getUint8(4);
  const seq = head.getUint32(8, true);
  const width = head.getUint16(12, true);
  const height = head.getUint16(14, true);
  if (width === 0 || height === 0) return null;
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const ySize = width * height;
  const cSize = cw * ch;
  if (buffer.byteLength !== FRAME_HEADER + ySize + 2 * cSize) return null;
  return {
    stream,
    seq,
    width,
    height,
    y: new Uint8Array(buffer, FRAME_HEADER, ySize),
    u: new Uint8Array(buffer, FRAME_HEADER + ySize, cSize),
    v: new Uint8Array(buffer, FRAME_HEADER + ySize + cSize, cSize),
  };
}

export interface Painter {
  readonly kind: 'webgl' | '2d';
  paint(frame: VideoFrame): void;
}

/** I420 → RGBA (BT.601 limited range), for the 2D fallback. */
export function i420ToRgba(f: VideoFrame, out: Uint8ClampedArray): void {
  const cw = Math.ceil(f.width / 2);
  let o = 0;
  for (let row = 0; row < f.height; row++) {
    const crow = (row >> 1) * cw;
    for (let col = 0; col < f.width; col++) {
      const y = 1.164 * (f.y[row * f.width + col] - 16);
      const c = crow + (col >> 1);
      const u = f.u[c] - 128;
      const v = f.v[c] - 128;
      out[o++] = y + 1.596 * v;
      out[o++] = y - 0.392 * u - 0.813 * v;
      out[o++] = y + 2.017 * u;
      out[o++] = 255;
    }
  }
}

const VERTEX = `
attribute vec2 a_pos;
varying vec2 v_tex;
void main() {
  v_tex = vec2((a_pos.x + 1.0) * 0.5, (1.0 - a_pos.y) * 0.5);
  gl_Position = vec4(a_pos, 0.0, 1.0);
}`;

const FRAGMENT = `
precision mediump float;
varying vec2 v_tex;
uniform sampler2D u_y;
uniform sampler2D u_u;
uniform sampler2D u_v;
void main() {
  float y = 1.164 * (texture2D(u_y, v_tex).r - 0.0625);
  float u = texture2D(u_u, v_tex).r - 0.5;
  float v = texture2D(u_v, v_tex).r - 0.5;
  gl_FragColor = vec4(y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u, 1.0);
}`;

function webglPainter(canvas: HTMLCanvasElement): Painter | null {
  let gl: WebGLRenderingContext | null = null;
  try {
    gl = canvas.getContext('webgl', { antialias: false, depth: false, preserveDrawingBuffer: true });
  } catch {
    gl = null;
  }
  if (!gl) return null;
  const compile = (type: number, src: string) => {
    const s = gl!.createShader(type);
    if (!s) return null;
    gl!.shaderSource(s, src);
    gl!.compileShader(s);
    return gl!.getShaderParameter(s, gl!.COMPILE_STATUS) ? s : null;
  };
  const vs = compile(gl.VERTEX_SHADER, VERTEX);
  const fs = compile(gl.FRAGMENT_SHADER, FRAGMENT);
  const program = gl.createProgram();
  if (!vs || !fs || !program) return null;
  gl.attachShader(program, vs);
  gl.attachShader(program, fs);
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) return null;
  gl.useProgram(program);
  const quad = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, quad);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const pos = gl.getAttribLocation(program, 'a_pos');
  gl.enableVertexAttribArray(pos);
  gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
  gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  const textures = ['u_y', 'u_u', 'u_v'].map((name, i) => {
    const tex = gl!.createTexture();
    gl!.activeTexture(gl!.TEXTURE0 + i);
    gl!.bindTexture(gl!.TEXTURE_2D, tex);
    for (const p of [gl!.TEXTURE_MIN_FILTER, gl!.TEXTURE_MAG_FILTER])
      gl!.texParameteri(gl!.TEXTURE_2D, p, gl!.LINEAR);
    for (const p of [gl!.TEXTURE_WRAP_S, gl!.TEXTURE_WRAP_T])
      gl!.texParameteri(gl!.TEXTURE_2D, p, gl!.CLAMP_TO_EDGE);
    gl!.uniform1i(gl!.getUniformLocation(program, name), i);
    return tex;
  });
  return {
    kind: 'webgl',
    paint(f) {
      const g = gl!;
      if (canvas.width !== f.width || canvas.height !== f.height) {
        canvas.width = f.width;
        canvas.height = f.height;
      }
      g.viewport(0, 0, f.width, f.height);
      const cw = Math.ceil(f.width / 2);
      const ch = Math.ceil(f.height / 2);
      const planes: [Uint8Array, number, number][] = [
        [f.y, f.width, f.height],
        [f.u, cw, ch],
        [f.v, cw, ch],
      ];
      planes.forEach(([data, w, h], i) => {
        g.activeTexture(g.TEXTURE0 + i);
        g.bindTexture(g.TEXTURE_2D, textures[i]);
        g.texImage2D(g.TEXTURE_2D, 0, g.LUMINANCE, w, h, 0, g.LUMINANCE, g.UNSIGNED_BYTE, data);
      });
      g.drawArrays(g.TRIANGLE_STRIP, 0, 4);
    },
  };
}

function canvas2dPainter(canvas: HTMLCanvasElement): Painter | null {
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  let image: ImageData | null = null;
  return {
    kind: '2d',
    paint(f) {
      if (canvas.width !== f.width || canvas.height !== f.height) {
        canvas.width = f.width;
        canvas.height = f.height;
      }
      if (!image || image.width !== f.width || image.height !== f.height)
        image = ctx.createImageData(f.width, f.height);
      i420ToRgba(f, image.data);
      ctx.putImageData(image, 0, 0);
    },
  };
}

/** The best painter this canvas supports (`prefer2d` forces the fallback), or `null`. */
export function createPainter(canvas: HTMLCanvasElement, prefer2d = false): Painter | null {
  return (prefer2d ? null : webglPainter(canvas)) ?? canvas2dPainter(canvas);
}
