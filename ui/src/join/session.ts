// The join page's contact with the outside world: the link, the invite API
// and the relay's WebSocket. Everything is injectable so tests can watch
// every URL the page asks for.
//
// The invite secret lives only in the link's fragment (`#...`), which the
// browser never sends. It is used here, in the page, to seal the knock; it is
// never put in a URL, a header or a protocol field.
//
// The device is known by its non-extractable WebCrypto key (device.ts):
// `hello` carries the public key and id, and the relay's `challenge` is
// answered with a signature (`prove`) before anything else.

import type { PatientToRelay, RelayToPatient } from '../../../crates/bedside-protocol/generated/protocol';
import { PROTOCOL_VERSION } from '../../../crates/bedside-protocol/generated/protocol';
import { b64url, fromB64url, openText, sealKnock } from './crypto';
import type { DeviceIdentity } from './device';
import { inviteEvent, type Event } from './flow';

/** Token layout (crates/bedside-visit/src/invite.rs): version 2, 95 bytes, 127 base64url characters. */
const TOKEN_CHARS = 127;
const TOKEN_BYTES = 95;
const TOKEN_VERSION = 2;
/** Byte 30: flags; bit 0 = the knock asks for the date of birth. */
const FLAG_DOB = 0x01;

/** What the page learns from its own address. */
export interface Link {
  token: string;
  /** The 16-byte visit id from the token. */
  visit: Uint8Array;
  /** The 32-byte invite secret from the fragment, or null when missing or damaged. */
  secret: Uint8Array | null;
  /** The clinic's policy asks for the date of birth (a flag signed into the token). */
  askDob: boolean;
}

/** The parts of a version-2 token the page uses. Throws on anything else. */
export function tokenFields(token: string): { visit: Uint8Array; askDob: boolean } {
  if (token.length !== TOKEN_CHARS) throw new Error('not a token');
  const bytes = fromB64url(token);
  if (bytes.length !== TOKEN_BYTES || bytes[0] !== TOKEN_VERSION) throw new Error('not a token');
  // Unknown flags: not a token this page understands (the relay refuses them too).
  if ((bytes[30]! & ~FLAG_DOB) !== 0) throw new Error('not a token');
  return { visit: bytes.slice(1, 17), askDob: (bytes[30]! & FLAG_DOB) !== 0 };
}

/** Bytes 1..17 of a token: the visit id. Throws on anything that is not a token. */
export function visitIdFromToken(token: string): Uint8Array {
  return tokenFields(token).visit;
}

/** The 43-character base64url secret of 32 bytes, or null. */
export function secretFromHash(hash: string): Uint8Array | null {
  const s = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) return null;
  try {
    const b = fromB64url(s);
    return b.length === 32 ? b : null;
  } catch {
    return null;
  }
}

/** Reads `/j/<token>#<secret>`; null when the path holds no usable token. */
export function parseLink(pathname: string, hash: string): Link | null {
  const m = /^\/j\/([A-Za-z0-9_-]+)\/?$/.exec(pathname);
  if (!m) return null;
  const token = m[1]!;
  try {
    const { visit, askDob } = tokenFields(token);
    return { token, visit, secret: secretFromHash(hash), askDob };
  } catch {
    return null;
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** `wss://<host>/ws/patient`; `ws://` only for a plain-HTTP page on loopback. */
export function socketUrl(loc: { protocol: string; host: string; hostname: string }): string {
  const plain = loc.protocol === 'http:' && LOOPBACK.has(loc.hostname);
  return `${plain ? 'ws' : 'wss'}://${loc.host}/ws/patient`;
}

/** `GET /api/invite/<token>` → a flow event. */
export async function checkInvite(token: string, fetchFn: typeof fetch = fetch): Promise<Event> {
  try {
    const res = await fetchFn(`/api/invite/${encodeURIComponent(token)}`, {
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      headers: { accept: 'application/json' },
    });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    return inviteEvent(res.status, body);
  } catch {
    return { type: 'invite_unreachable' };
  }
}

export interface KnockDetails {
  name: string;
  dob?: string;
}

export interface SessionOptions {
  url: string;
  link: Link & { secret: Uint8Array };
  /** The device key; the socket opens at once, `hello` waits for the key. */
  device: DeviceIdentity | Promise<DeviceIdentity>;
  knock: KnockDetails;
  onEvent: (e: Event) => void;
  WebSocketImpl?: typeof WebSocket;
  /** Waits before reconnecting after a lost connection; default RETRY_DELAYS, [] = never. */
  retryDelays?: number[];
}

/** Waits before each reconnection attempt after a connection is lost (ms). */
export const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000];

/**
 * The waiting room over the relay: hello (with the device key), the proof,
 * then the sealed knock on every welcome. A connection lost without a final
 * answer (the relay restarting, a network change) is re-opened after
 * `retryDelays`: the device proves the same key and knocks again, so the
 * clinician sees the same device back. A final answer (denied, expired,
 * locked, ended, an error frame such as a withdrawn link) is never retried.
 */
export class Session {
  private ws!: WebSocket;
  private ping: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private done = false;
  private device: Promise<DeviceIdentity>;
  private queue: Promise<void> = Promise.resolve();

  constructor(private opts: SessionOptions) {
    this.device = Promise.resolve(opts.device);
    // A key that cannot be made (no WebCrypto) ends the attempt plainly.
    this.device.catch(() => {
      this.done = true;
      opts.onEvent({ type: 'relay', msg: { type: 'error', code: 'unauthorized', message: '' } });
    });
    this.connect();
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(this.opts.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      void this.device.then((d) => {
        if (this.ws !== ws) return;
        this.send({
          type: 'hello',
          v: PROTOCOL_VERSION,
          token: this.opts.link.token,
          device_id: d.id,
          public_key: b64url(d.publicKey),
        });
        this.stopPing();
        this.ping = setInterval(() => this.send({ type: 'ping' }), 25_000);
      }, () => ws.close(1000));
    });
    // One frame at a time, in order: opening a sealed message is async and
    // must not be overtaken by the frame after it.
    ws.addEventListener('message', (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      this.queue = this.queue.then(() => this.onMessage(ev.data)).catch(() => undefined);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.stopPing();
      // After the frames before it: a close that follows `denied` is no loss.
      this.queue = this.queue.then(() => this.lost());
    });
  }

  private lost(): void {
    if (this.done) return;
    const delays = this.opts.retryDelays ?? RETRY_DELAYS;
    const wait = delays[this.attempt];
    if (wait === undefined) {
      this.opts.onEvent({ type: 'socket_closed' });
      return;
    }
    this.attempt += 1;
    this.opts.onEvent({ type: 'reconnecting' });
    this.retry = setTimeout(() => {
      if (!this.done) this.connect();
    }, wait);
  }

  private send(m: PatientToRelay): void {
    if (this.ws.readyState === 1) this.ws.send(JSON.stringify(m));
  }

  private stopPing(): void {
    if (this.ping !== undefined) clearInterval(this.ping);
    this.ping = undefined;
  }

  private async onMessage(data: unknown): Promise<void> {
    if (typeof data !== 'string') return;
    let msg: RelayToPatient;
    try {
      msg = JSON.parse(data) as RelayToPatient;
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    if (msg.type === 'challenge') {
      try {
        const d = await this.device;
        const signature = await d.prove(this.opts.link.visit, fromB64url(msg.nonce));
        this.send({ type: 'prove', signature: b64url(signature) });
      } catch {
        // A malformed nonce: say nothing; the relay times the handshake out.
      }
      return;
    }
    if (msg.type === 'message' || msg.type === 'denied') {
      if (msg.type === 'denied') this.done = true;
      const text = await this.open(msg.type === 'message' ? 'message' : 'deny', msg.sealed);
      this.opts.onEvent(msg.type === 'message' ? { type: 'clinic_message', text } : { type: 'clinic_denied', reason: text });
      return;
    }
    if (msg.type === 'welcome') {
      this.attempt = 0;
      // Never ahead of our own hello (which waits for the device key).
      await this.device;
      const { secret, visit } = this.opts.link;
      const knock: KnockDetails = this.opts.knock.dob ? this.opts.knock : { name: this.opts.knock.name };
      const sealed = await sealKnock(secret, visit, knock);
      this.send({ type: 'knock', sealed: b64url(sealed) });
    }
    if (['denied', 'expired', 'locked', 'ended', 'error'].includes(msg.type)) this.done = true;
    this.opts.onEvent({ type: 'relay', msg });
  }

  /** The call's signalling once admitted: the tagged offer, trickled ICE and a refusal (call.ts). */
  signal(m: Extract<PatientToRelay, { type: 'offer' | 'ice' | 'call_refused' }>): void {
    this.send(m);
  }

  /**
   * Opens clinician text sealed for this device. Text that does not open
   * (altered, or sealed for another link) is dropped: null, and the page
   * says only that a message could not be shown — nothing is logged.
   */
  private async open(kind: 'message' | 'deny', sealed: string): Promise<string | null> {
    try {
      const d = await this.device;
      return await openText(this.opts.link.secret, this.opts.link.visit, d.id, kind, fromB64url(sealed));
    } catch {
      return null;
    }
  }

  /** The patient leaves the waiting room. */
  leave(): void {
    this.send({ type: 'leave' });
    this.done = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.stopPing();
    this.ws.close(1000);
  }
}
