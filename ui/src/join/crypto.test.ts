// The browser's call-auth code against the vectors the Rust core is pinned to.
import { describe, expect, it } from 'vitest';
import vectorsText from '../../../crates/bedside-visit/testdata/auth-vectors.txt?raw';
import messageVectorsText from '../../../crates/bedside-visit/testdata/message-vectors.txt?raw';
import { openText, sealText, textKey } from './crypto';
import { b64url, fromB64url, knockKey, offerTag, sas, sdpAuthKey, sdpIdentity, sealKnock, verifyAnswer, answerTag } from './crypto';

const vectors: Record<string, string> = Object.fromEntries(
  vectorsText
    .trim()
    .split('\n')
    .map((l: string) => l.split('=') as [string, string]),
);
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
const visit = new Uint8Array(16).fill(0xaa);
const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=ice-ufrag:abcd\r\na=ice-pwd:xxxxxxxxxxxxxxxxxxxxxx\r\na=fingerprint:SHA-256 ab:cd:ef:01\r\n';

describe('call authentication matches the Rust core byte for byte', () => {
  it('derives the same keys', async () => {
    expect(hex(await knockKey(secret))).toBe(vectors.knock);
    expect(hex(await sdpAuthKey(secret))).toBe(vectors.auth);
  });

  it('computes the same offer tag', async () => {
    const tag = await offerTag(await sdpAuthKey(secret), visit, 'device-1', sdpIdentity(OFFER));
    expect(hex(tag)).toBe(vectors.offer_tag);
  });

  it('computes the same SAS in either order', async () => {
    expect(await sas(secret, 'sha-256 AB:CD:EF:01', 'sha-256 11:22:33:44')).toBe(vectors.sas);
    expect(await sas(secret, 'sha-256 11:22:33:44', 'sha-256 AB:CD:EF:01')).toBe(vectors.sas);
  });

  it('seals knocks the core can open', async () => {
    const sealed = await sealKnock(secret, visit, { name: 'Zoë' }, new Uint8Array(12).fill(7));
    expect(hex(sealed)).toBe(vectors.sealed_knock);
  });
});

describe('answer verification', () => {
  const ANSWER = 'v=0\r\na=ice-ufrag:wxyz\r\na=fingerprint:sha-256 11:22:33:44\r\n';

  it('accepts the genuine answer and refuses a swapped fingerprint', async () => {
    const k = await sdpAuthKey(secret);
    const offer = await offerTag(k, visit, 'dev', sdpIdentity(OFFER));
    const tag = await answerTag(k, visit, 'dev', sdpIdentity(ANSWER), offer);
    await expect(verifyAnswer(k, visit, 'dev', ANSWER, offer, tag)).resolves.toEqual({
      fingerprint: 'sha-256 11:22:33:44',
      ufrag: 'wxyz',
    });
    const mitm = ANSWER.replace('11:22:33:44', '11:22:33:45');
    await expect(verifyAnswer(k, visit, 'dev', mitm, offer, tag)).rejects.toThrow('auth-mismatch');
    await expect(verifyAnswer(k, visit, 'dev', 'v=0\r\n', offer, tag)).rejects.toThrow('sdp-incomplete');
  });
});

describe('base64url', () => {
  it('round-trips and refuses other alphabets', () => {
    const b = Uint8Array.from({ length: 33 }, (_, i) => i * 7);
    expect(fromB64url(b64url(b))).toEqual(b);
    expect(() => fromB64url('ab+/')).toThrow();
  });
});

describe('clinician text matches the Rust core byte for byte', () => {
  const mv: Record<string, string> = Object.fromEntries(
    messageVectorsText
      .trim()
      .split('\n')
      .map((l: string) => l.split('=') as [string, string]),
  );
  const device = 'eelNQogy0MHLrK-nXch_-OfZgyMVOaRLivtM6TzZW3c';
  const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));

  it('derives the same key and seals the same bytes', async () => {
    expect(hex(await textKey(secret))).toBe(mv.key);
    expect(hex(await sealText(secret, visit, device, 'message', '5 more minutes — Zoë', new Uint8Array(12).fill(7)))).toBe(mv.message);
    expect(hex(await sealText(secret, visit, device, 'deny', 'Wrong day, please call us', new Uint8Array(12).fill(8)))).toBe(mv.deny);
  });

  it('opens the pinned texts only for the right visit, device and kind', async () => {
    expect(await openText(secret, visit, device, 'message', unhex(mv.message!))).toBe('5 more minutes — Zoë');
    expect(await openText(secret, visit, device, 'deny', unhex(mv.deny!))).toBe('Wrong day, please call us');
    await expect(openText(secret, visit, device, 'deny', unhex(mv.message!))).rejects.toThrow();
    await expect(openText(secret, visit, 'other', 'message', unhex(mv.message!))).rejects.toThrow();
    await expect(openText(secret, new Uint8Array(16), device, 'message', unhex(mv.message!))).rejects.toThrow();
    await expect(openText(new Uint8Array(32), visit, device, 'message', unhex(mv.message!))).rejects.toThrow();
    await expect(openText(secret, visit, device, 'message', new Uint8Array(27))).rejects.toThrow();
  });
});
