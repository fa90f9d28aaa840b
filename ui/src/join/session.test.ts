import { afterEach, describe, expect, it, vi } from 'vitest';

import pageToken from '../../../crates/bedside-visit/testdata/page-token.txt?raw';
import { PROTOCOL_VERSION } from '../../../crates/bedside-protocol/generated/protocol';
import { b64url, fromB64url, knockKey, sealText } from './crypto';
import { FakeSocket, fakeFetch } from './fakes';
import type { Event } from './flow';
import { deviceIdentity } from './device';
import { checkInvite, parseLink, secretFromHash, Session, socketUrl, tokenFields, visitIdFromToken } from './session';

// Made by the Rust code (bedside_visit::invite::sign, pinned by its test
// the_token_the_page_tests_parse) with the Ed25519 seed [7; 32]: visit
// a0a1…af, not before 1_800_000_000, 90 minutes, 2 devices, token id
// 0xdeadbeef, date of birth asked.
const RUST_TOKEN = pageToken.trim();
const RUST_VISIT = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const SECRET = new Uint8Array(32).map((_, i) => i * 7 + 3);
const SECRET_B64 = b64url(SECRET);

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

afterEach(() => {
  FakeSocket.instances = [];
});

describe('the link', () => {
  it('decodes the visit id from a token the Rust code made', () => {
    expect(RUST_TOKEN).toHaveLength(127);
    expect(hex(visitIdFromToken(RUST_TOKEN))).toBe(RUST_VISIT);
    // The rest of the layout, as a check that the offsets are right.
    const bytes = fromB64url(RUST_TOKEN);
    expect(bytes[0]).toBe(2);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(19)).toBe(1_800_000_000);
    expect(view.getUint16(23)).toBe(90);
    expect(bytes[25]).toBe(2);
    expect(view.getUint32(26)).toBe(0xdeadbeef);
  });

  it('reads the signed date-of-birth flag, and refuses unknown flags', () => {
    const bytes = fromB64url(RUST_TOKEN);
    expect(bytes[30]).toBe(1);
    expect(tokenFields(RUST_TOKEN).askDob).toBe(true);
    const off = bytes.slice();
    off[30] = 0;
    expect(tokenFields(b64url(off)).askDob).toBe(false);
    off[30] = 2;
    expect(() => tokenFields(b64url(off))).toThrow();
  });

  it('refuses what is not a version-2 token', () => {
    expect(() => visitIdFromToken(RUST_TOKEN.slice(1))).toThrow();
    expect(() => visitIdFromToken('B' + RUST_TOKEN.slice(1))).toThrow(); // version 6
    const v1 = fromB64url(RUST_TOKEN);
    v1[0] = 1;
    expect(() => visitIdFromToken(b64url(v1))).toThrow();
    expect(() => visitIdFromToken(RUST_TOKEN.slice(0, 126) + '!')).toThrow();
  });

  it('reads the token from the path and the secret from the fragment', () => {
    const link = parseLink(`/j/${RUST_TOKEN}`, `#${SECRET_B64}`);
    expect(link?.token).toBe(RUST_TOKEN);
    expect(hex(link!.visit)).toBe(RUST_VISIT);
    expect(link?.secret).toEqual(SECRET);
    expect(link?.askDob).toBe(true);
    expect(parseLink(`/j/${RUST_TOKEN}`, '')?.secret).toBeNull();
    expect(parseLink(`/j/${RUST_TOKEN}`, '#short')?.secret).toBeNull();
    expect(parseLink('/j/nope', `#${SECRET_B64}`)).toBeNull();
    expect(parseLink(`/x/${RUST_TOKEN}`, `#${SECRET_B64}`)).toBeNull();
    expect(SECRET_B64).toHaveLength(43);
    expect(secretFromHash(SECRET_B64)).toEqual(SECRET);
    expect(secretFromHash(`#${SECRET_B64.slice(0, 42)}=`)).toBeNull();
  });

  it('uses wss, and ws only for a plain-HTTP page on loopback', () => {
    expect(socketUrl({ protocol: 'https:', host: 'relay.example.org', hostname: 'relay.example.org' })).toBe(
      'wss://relay.example.org/ws/patient',
    );
    expect(socketUrl({ protocol: 'http:', host: '127.0.0.1:8080', hostname: '127.0.0.1' })).toBe('ws://127.0.0.1:8080/ws/patient');
    expect(socketUrl({ protocol: 'http:', host: 'localhost:8080', hostname: 'localhost' })).toBe('ws://localhost:8080/ws/patient');
    expect(socketUrl({ protocol: 'http:', host: 'evil.example:80', hostname: 'evil.example' })).toBe('wss://evil.example:80/ws/patient');
  });
});

describe('the secret never leaves the page', () => {
  it('asks the invite API with the token only', async () => {
    const f = fakeFetch(200, { clinic_name: 'Riverside', not_before: 1, expires: 2 });
    const e = await checkInvite(RUST_TOKEN, f.fn);
    expect(e).toEqual({ type: 'invite_ok', invite: { clinicName: 'Riverside', notBefore: 1, expires: 2 } });
    expect(f.urls).toEqual([`/api/invite/${RUST_TOKEN}`]);
    expect(await checkInvite(RUST_TOKEN, (() => Promise.reject(new TypeError('offline'))) as typeof fetch)).toEqual({
      type: 'invite_unreachable',
    });
  });

  it('says hello with the device key, proves it, knocks sealed on welcome, and sends nothing that holds the secret', async () => {
    const events: Event[] = [];
    const link = parseLink(`/j/${RUST_TOKEN}`, `#${SECRET_B64}`)!;
    const device = await deviceIdentity(link.visit, null);
    const s = new Session({
      url: 'wss://relay.example.org/ws/patient',
      link: { ...link, secret: link.secret! },
      device: Promise.resolve(device),
      knock: { name: 'Ada Lovelace' },
      onEvent: (e) => events.push(e),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
    const ws = FakeSocket.instances[0]!;
    expect(ws.url).toBe('wss://relay.example.org/ws/patient');
    ws.open();
    await vi.waitFor(() => expect(ws.sent).toHaveLength(1));
    expect(ws.frames()).toEqual([
      { type: 'hello', v: PROTOCOL_VERSION, token: RUST_TOKEN, device_id: device.id, public_key: b64url(device.publicKey) },
    ]);
    // The relay's challenge is answered with a signature over this visit and nonce.
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    ws.receive({ type: 'challenge', nonce: b64url(nonce) });
    await vi.waitFor(() => expect(ws.sent).toHaveLength(2));
    const prove = ws.frames()[1]!;
    expect(prove.type).toBe('prove');
    const pub = await crypto.subtle.importKey('raw', device.publicKey as BufferSource, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'verify',
    ]);
    const message = new Uint8Array([...new TextEncoder().encode('bedside device proof v1'), ...link.visit, ...nonce]);
    expect(
      await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, fromB64url(prove.signature as string) as BufferSource, message),
    ).toBe(true);
    ws.receive({ type: 'welcome', clinic_name: 'Riverside', not_before: 1, expires: 2 });
    await vi.waitFor(() => expect(ws.sent).toHaveLength(3));
    const knock = ws.frames()[2]!;
    expect(knock.type).toBe('knock');

    // The clinician (who has the secret) can open it; it names the patient and nothing else.
    const sealed = fromB64url(knock.sealed as string);
    const key = await crypto.subtle.importKey('raw', (await knockKey(SECRET)) as BufferSource, 'AES-GCM', false, ['decrypt']);
    const aad = new Uint8Array([...new TextEncoder().encode('bedside knock v1'), ...fromB64url(RUST_TOKEN).slice(1, 17)]);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: aad }, key, sealed.slice(12));
    expect(JSON.parse(new TextDecoder().decode(plain))).toEqual({ name: 'Ada Lovelace' });

    for (const frame of ws.sent) {
      expect(frame).not.toContain(SECRET_B64);
      expect(frame).not.toContain(hex(SECRET));
    }
    expect(ws.url).not.toContain(SECRET_B64);

    ws.receive({ type: 'waiting' });
    ws.receive({ type: 'message', sealed: b64url(await sealText(SECRET, link.visit, device.id, 'message', '5 more minutes')) });
    // Sealed for another device: does not open.
    ws.receive({ type: 'message', sealed: b64url(await sealText(SECRET, link.visit, 'other-device', 'message', 'x')) });
    ws.receive({ type: 'pong' });
    await vi.waitFor(() => expect(events).toHaveLength(5));
    expect(events.map((e) => (e.type === 'relay' ? e.msg.type : e.type))).toEqual([
      'welcome',
      'waiting',
      'clinic_message',
      'clinic_message',
      'pong',
    ]);
    expect(events.filter((e) => e.type === 'clinic_message')).toEqual([
      { type: 'clinic_message', text: '5 more minutes' },
      { type: 'clinic_message', text: null },
    ]);

    s.leave();
    expect(ws.frames().at(-1)).toEqual({ type: 'leave' });
    expect(ws.closedWith).toBe(1000);
    // Leaving is not a lost connection.
    expect(events.some((e) => e.type === 'socket_closed')).toBe(false);
  });

  it('reports a lost connection, but not after a final answer', async () => {
    const events: Event[] = [];
    const link = parseLink(`/j/${RUST_TOKEN}`, `#${SECRET_B64}`)!;
    const mk = () =>
      new Session({
        url: 'wss://h/ws/patient',
        link: { ...link, secret: link.secret! },
        device: deviceIdentity(link.visit, null),
        knock: { name: 'A', dob: '1970-01-01' },
        onEvent: (e) => events.push(e),
        WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
        retryDelays: [],
      });
    mk();
    FakeSocket.instances[0]!.close();
    await vi.waitFor(() => expect(events).toEqual([{ type: 'socket_closed' }]));
    mk();
    const ws = FakeSocket.instances[1]!;
    ws.receive({ type: 'denied', sealed: 'AAAA' });
    ws.close();
    await vi.waitFor(() => expect(events.at(-1)).toEqual({ type: 'clinic_denied', reason: null }));
    expect(events.filter((e) => e.type === 'socket_closed')).toHaveLength(1);
  });

  it('re-opens a lost connection, proves the same key and knocks again; never after a final answer', async () => {
    const events: Event[] = [];
    const link = parseLink(`/j/${RUST_TOKEN}`, `#${SECRET_B64}`)!;
    const device = await deviceIdentity(link.visit, null);
    const s = new Session({
      url: 'wss://h/ws/patient',
      link: { ...link, secret: link.secret! },
      device,
      knock: { name: 'A' },
      onEvent: (e) => events.push(e),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      retryDelays: [10, 10],
    });
    const first = FakeSocket.instances[0]!;
    first.open();
    first.receive({ type: 'welcome', clinic_name: 'R', not_before: 1, expires: 2 });
    await vi.waitFor(() => expect(first.frames().map((f) => f.type)).toEqual(['hello', 'knock']));
    // The relay restarts.
    first.close(1001);
    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(2));
    expect(events.some((e) => e.type === 'reconnecting')).toBe(true);
    expect(events.some((e) => e.type === 'socket_closed')).toBe(false);
    const second = FakeSocket.instances[1]!;
    second.open();
    await vi.waitFor(() => expect(second.frames()).toHaveLength(1));
    expect(second.frames()[0]).toMatchObject({ type: 'hello', device_id: device.id });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    second.receive({ type: 'challenge', nonce: b64url(nonce) });
    second.receive({ type: 'welcome', clinic_name: 'R', not_before: 1, expires: 2 });
    await vi.waitFor(() => expect(second.frames().map((f) => f.type)).toEqual(['hello', 'prove', 'knock']));

    // A withdrawn link (an error frame) is final: no further attempt.
    second.receive({ type: 'error', code: 'invalid_invite', message: 'withdrawn' });
    second.close(1008);
    await new Promise((r) => setTimeout(r, 50));
    expect(FakeSocket.instances).toHaveLength(2);
    s.leave();
  });

  it('gives up after its last retry', async () => {
    const events: Event[] = [];
    const link = parseLink(`/j/${RUST_TOKEN}`, `#${SECRET_B64}`)!;
    new Session({
      url: 'wss://h/ws/patient',
      link: { ...link, secret: link.secret! },
      device: deviceIdentity(link.visit, null),
      knock: { name: 'A' },
      onEvent: (e) => events.push(e),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      retryDelays: [5],
    });
    FakeSocket.instances[0]!.close();
    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(2));
    FakeSocket.instances[1]!.close();
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(['reconnecting', 'socket_closed']));
  });
});
