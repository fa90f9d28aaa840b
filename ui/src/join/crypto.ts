// Call authentication in the patient's browser, with WebCrypto only.
//
// The byte-level specification is crates/bedside-visit/src/auth.rs; both
// sides are pinned to crates/bedside-visit/testdata/auth-vectors.txt.
//
// - knock key  = HKDF-SHA256(secret, salt = "", info = "bedside knock v1")
// - K_auth     = HKDF-SHA256(secret, salt = "", info = "bedside sdp-auth v1")
// - offer tag  = HMAC(K_auth, lp("offer") ‖ lp(visit) ‖ lp(device) ‖ lp(fingerprint) ‖ lp(ufrag))
// - answer tag = HMAC(K_auth, lp("answer") ‖ … ‖ lp(offer tag))
// - SAS        = HKDF(secret, info = "bedside sas v1" ‖ fpA ‖ 0 ‖ fpB), fingerprints sorted → "123 456"
// - knock      = nonce(12) ‖ AES-256-GCM(knock key, JSON, aad = "bedside knock v1" ‖ visit)
// - clinician text = nonce(12) ‖ AES-256-GCM(HKDF(secret, "bedside clinician-message v1"), UTF-8,
//   aad = visit ‖ lp(device id) ‖ lp(kind)), kind "message" or "deny" (crates/bedside-visit/src/sealed.rs)
// - device proof message = "bedside device proof v1" ‖ visit(16) ‖ nonce(32)
//   (crates/bedside-visit/src/device.rs), signed with the device key (device.ts)
// where lp(x) is x prefixed with its length as a 32-bit big-endian integer.

const enc = new TextEncoder();

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('This browser cannot run a secure visit (WebCrypto is unavailable).');
  return s;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

function lengthPrefixed(fields: Uint8Array[]): Uint8Array {
  return concat(
    ...fields.flatMap((f) => {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, f.length);
      return [len, f];
    }),
  );
}

/** HKDF-SHA256 with an empty salt, 32 bytes out. */
export async function hkdf32(ikm: Uint8Array, info: Uint8Array): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', ikm as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: info as BufferSource },
    key,
    256,
  );
  return new Uint8Array(bits);
}

export const knockKey = (secret: Uint8Array) => hkdf32(secret, enc.encode('bedside knock v1'));
export const sdpAuthKey = (secret: Uint8Array) => hkdf32(secret, enc.encode('bedside sdp-auth v1'));

/** The DTLS fingerprint and ICE ufrag an SDP commits to. */
export interface SdpIdentity {
  fingerprint: string;
  ufrag: string;
}

export function sdpIdentity(sdp: string): SdpIdentity {
  let fingerprint: string | undefined;
  let ufrag: string | undefined;
  for (const raw of sdp.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!fingerprint && line.startsWith('a=fingerprint:')) {
      const [alg, hex] = line.slice('a=fingerprint:'.length).trim().split(/\s+/);
      if (alg && hex) fingerprint = `${alg.toLowerCase()} ${hex.toUpperCase()}`;
    }
    if (!ufrag && line.startsWith('a=ice-ufrag:')) {
      const v = line.slice('a=ice-ufrag:'.length).trim();
      if (v) ufrag = v;
    }
  }
  if (!fingerprint || !ufrag) throw new Error('sdp-incomplete');
  return { fingerprint, ufrag };
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, data as BufferSource));
}

export function offerTag(kAuth: Uint8Array, visit: Uint8Array, device: string, id: SdpIdentity): Promise<Uint8Array> {
  return hmac(
    kAuth,
    lengthPrefixed([enc.encode('offer'), visit, enc.encode(device), enc.encode(id.fingerprint), enc.encode(id.ufrag)]),
  );
}

export function answerTag(
  kAuth: Uint8Array,
  visit: Uint8Array,
  device: string,
  id: SdpIdentity,
  offer: Uint8Array,
): Promise<Uint8Array> {
  return hmac(
    kAuth,
    lengthPrefixed([enc.encode('answer'), visit, enc.encode(device), enc.encode(id.fingerprint), enc.encode(id.ufrag), offer]),
  );
}

/** Constant-time comparison of two tags. */
export function tagsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Verifies the clinician's answer before it may reach setRemoteDescription. */
export async function verifyAnswer(
  kAuth: Uint8Array,
  visit: Uint8Array,
  device: string,
  answerSdp: string,
  offer: Uint8Array,
  tag: Uint8Array,
): Promise<SdpIdentity> {
  const id = sdpIdentity(answerSdp);
  const want = await answerTag(kAuth, visit, device, id, offer);
  if (!tagsEqual(want, tag)) throw new Error('auth-mismatch');
  return id;
}

export async function sas(secret: Uint8Array, fpA: string, fpB: string): Promise<string> {
  const [a, b] = fpA <= fpB ? [fpA, fpB] : [fpB, fpA];
  const okm = await hkdf32(secret, concat(enc.encode('bedside sas v1'), enc.encode(a), new Uint8Array([0]), enc.encode(b)));
  const n = new DataView(okm.buffer, okm.byteOffset).getUint32(0) % 1_000_000;
  return `${String(Math.floor(n / 1000)).padStart(3, '0')} ${String(n % 1000).padStart(3, '0')}`;
}

/** Seals the patient's knock so only the clinician app can read it. */
export async function sealKnock(
  secret: Uint8Array,
  visit: Uint8Array,
  payload: { name: string; dob?: string },
  nonce: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(12)),
): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', (await knockKey(secret)) as BufferSource, 'AES-GCM', false, ['encrypt']);
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: concat(enc.encode('bedside knock v1'), visit) as BufferSource },
    k,
    enc.encode(JSON.stringify(payload)) as BufferSource,
  );
  return concat(nonce, new Uint8Array(ct));
}

export const textKey = (secret: Uint8Array) => hkdf32(secret, enc.encode('bedside clinician-message v1'));

/** Which clinician text; bound into the associated data. */
export type TextKind = 'message' | 'deny';

function textAad(visit: Uint8Array, device: string, kind: TextKind): Uint8Array {
  return concat(visit, lengthPrefixed([enc.encode(device), enc.encode(kind)]));
}

/** Seals clinician text as the clinician app does (for tests; the page only opens). */
export async function sealText(
  secret: Uint8Array,
  visit: Uint8Array,
  device: string,
  kind: TextKind,
  text: string,
  nonce: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(12)),
): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', (await textKey(secret)) as BufferSource, 'AES-GCM', false, ['encrypt']);
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: textAad(visit, device, kind) as BufferSource },
    k,
    enc.encode(text) as BufferSource,
  );
  return concat(nonce, new Uint8Array(ct));
}

/** Opens clinician text sealed for this device; throws when it does not open. */
export async function openText(secret: Uint8Array, visit: Uint8Array, device: string, kind: TextKind, sealed: Uint8Array): Promise<string> {
  if (sealed.length < 28) throw new Error('sealed-too-short');
  const k = await subtle().importKey('raw', (await textKey(secret)) as BufferSource, 'AES-GCM', false, ['decrypt']);
  const plain = await subtle().decrypt(
    { name: 'AES-GCM', iv: sealed.slice(0, 12) as BufferSource, additionalData: textAad(visit, device, kind) as BufferSource },
    k,
    sealed.slice(12) as BufferSource,
  );
  return new TextDecoder('utf-8', { fatal: true }).decode(plain);
}

/** What the device key signs to answer the relay's challenge. */
export function deviceProofMessage(visit: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (visit.length !== 16 || nonce.length !== 32) throw new Error('bad challenge');
  return concat(enc.encode('bedside device proof v1'), visit, nonce);
}

/** base64url without padding (link fragments, protocol fields). */
export function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromB64url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url');
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
