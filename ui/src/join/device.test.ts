// The device key: non-extractable, id = hash of the public key, proofs in
// the format the Rust verifier (crates/bedside-visit/src/device.rs) checks.
import { describe, expect, it } from 'vitest';
import vectorsText from '../../../crates/bedside-visit/testdata/device-vectors.txt?raw';
import { b64url, deviceProofMessage } from './crypto';
import { deviceIdentity } from './device';

const vectors: Record<string, string> = Object.fromEntries(
  vectorsText
    .trim()
    .split('\n')
    .map((l: string) => l.split('=') as [string, string]),
);
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('the device key', () => {
  it('builds the proof message the Rust verifier expects', () => {
    expect(hex(deviceProofMessage(unhex(vectors.visit!), unhex(vectors.nonce!)))).toBe(vectors.message);
    expect(() => deviceProofMessage(new Uint8Array(15), new Uint8Array(32))).toThrow();
    expect(() => deviceProofMessage(new Uint8Array(16), new Uint8Array(31))).toThrow();
  });

  it('derives the pinned id from the pinned public key', async () => {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', unhex(vectors.public_key!) as BufferSource));
    expect(b64url(digest)).toBe(vectors.device_id);
  });

  it('is non-extractable, names itself by its key, and signs r||s that verifies', async () => {
    const visit = new Uint8Array(16).fill(3);
    const d = await deviceIdentity(visit, null);
    expect(d.persisted).toBe(false);
    expect(d.publicKey).toHaveLength(65);
    expect(d.publicKey[0]).toBe(4);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', d.publicKey as BufferSource));
    expect(d.id).toBe(b64url(digest));
    expect(d.id).toHaveLength(43);

    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const sig = await d.prove(visit, nonce);
    expect(sig).toHaveLength(64);
    const pub = await crypto.subtle.importKey('raw', d.publicKey as BufferSource, { name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'verify',
    ]);
    const ok = (m: Uint8Array) => crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, sig as BufferSource, m as BufferSource);
    expect(await ok(deviceProofMessage(visit, nonce))).toBe(true);
    const other = nonce.slice();
    other[0]! ^= 1;
    expect(await ok(deviceProofMessage(visit, other))).toBe(false);

    // Without IndexedDB every call is a new in-memory key.
    expect((await deviceIdentity(visit, null)).id).not.toBe(d.id);
  });

  it('falls back to memory when IndexedDB refuses', async () => {
    const broken = {
      open() {
        throw new DOMException('blocked', 'SecurityError');
      },
    } as unknown as IDBFactory;
    const d = await deviceIdentity(new Uint8Array(16), broken);
    expect(d.persisted).toBe(false);
    expect(d.id).toHaveLength(43);
  });
});
