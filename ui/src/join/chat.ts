// Chat with the clinician, on the call's own peer connection.
//
// Chat text is PHI, so it never goes through the relay: it rides a WebRTC data
// channel of the call (DTLS, the same association whose fingerprints the offer
// and answer tags and the SAS authenticate). The channel is negotiated out of
// band — label `chat`, id 0, ordered and reliable — so the offer needs no extra
// signalling; the clinician's core makes the same channel
// (crates/bedside-media/src/chat.rs holds the same rules, in Rust).
//
// A message is one text frame of JSON {v:1, kind:"text", id, text, sentAt}.
// Text is 1–2,000 characters (Unicode code points, not UTF-16 units), without
// control characters other than tab and line breaks. What arrives is checked
// as strictly: size before parsing, no unknown fields, kinds or versions.
// Nothing here logs or stores: the messages live in memory for the call.

export const CHAT_LABEL = 'chat';
export const CHAT_STREAM_ID = 0;
export const MAX_TEXT_CHARS = 2000;
/** The largest frame read at all (bytes, before parsing). */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** The most messages kept on screen; older ones drop off. */
export const MAX_KEPT = 500;

export interface ChatMessage {
  id: string;
  text: string;
  /** Sender's clock, Unix milliseconds. */
  sentAt: number;
}

export interface ChatLine extends ChatMessage {
  from: 'me' | 'them';
}

export type ChatRefusal =
  | 'too_large'
  | 'binary'
  | 'malformed'
  | 'unsupported_version'
  | 'unknown_kind'
  | 'empty'
  | 'too_long'
  | 'bad_characters'
  | 'rate_limited'
  | 'not_open';

export type Result<T> = { ok: true; value: T } | { ok: false; reason: ChatRefusal };

/** Characters as a person counts them (code points). */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

// Control characters other than tab, LF and CR.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Checks a text to send or show. */
export function checkText(text: string): ChatRefusal | null {
  if (text.trim() === '') return 'empty';
  if (charCount(text) > MAX_TEXT_CHARS) return 'too_long';
  if (CONTROL.test(text)) return 'bad_characters';
  return null;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const KEYS = ['id', 'kind', 'sentAt', 'text', 'v'];

/** Parses one received frame (a string; anything else is refused). */
export function parseMessage(data: unknown): Result<ChatMessage> {
  if (typeof data !== 'string') return { ok: false, reason: 'binary' };
  // UTF-16 units × 3 bounds the UTF-8 size; check the cheap bound first.
  if (data.length > MAX_MESSAGE_BYTES || new TextEncoder().encode(data).length > MAX_MESSAGE_BYTES) {
    return { ok: false, reason: 'too_large' };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'malformed' };
  const m = raw as Record<string, unknown>;
  if (typeof m.v !== 'number') return { ok: false, reason: 'malformed' };
  if (m.v !== 1) return { ok: false, reason: 'unsupported_version' };
  if (typeof m.kind !== 'string') return { ok: false, reason: 'malformed' };
  if (m.kind !== 'text') return { ok: false, reason: 'unknown_kind' };
  const keys = Object.keys(m).sort();
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) return { ok: false, reason: 'malformed' };
  if (typeof m.id !== 'string' || !ID.test(m.id)) return { ok: false, reason: 'malformed' };
  if (typeof m.sentAt !== 'number' || !Number.isSafeInteger(m.sentAt) || m.sentAt < 0) return { ok: false, reason: 'malformed' };
  if (typeof m.text !== 'string') return { ok: false, reason: 'malformed' };
  const bad = checkText(m.text);
  if (bad) return { ok: false, reason: bad };
  return { ok: true, value: { id: m.id, text: m.text, sentAt: m.sentAt } };
}

/** The wire JSON of a message. */
export function encodeMessage(m: ChatMessage): string {
  return JSON.stringify({ v: 1, kind: 'text', id: m.id, text: m.text, sentAt: m.sentAt });
}

/** A random message id (32 hex digits). */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A token bucket: `burst` at once, then `perSecond`. Time is an argument. */
export class RateLimit {
  private tokens: number;
  private last: number | null = null;
  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  take(nowMs: number): boolean {
    if (this.last !== null) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.perSecond);
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/** What the page allows itself: 5 at once, then one a second (the clinician's core accepts 10, then 2 a second). */
export const pageLimit = () => new RateLimit(5, 1);
/** What the page accepts from the clinician. */
export const inboundLimit = () => new RateLimit(10, 2);

/** The conversation on screen: bounded, with a count of unread incoming messages. */
export class ChatLog {
  lines: ChatLine[] = [];
  unread = 0;

  add(line: ChatLine): void {
    if (this.lines.some((l) => l.id === line.id && l.from === line.from)) return;
    this.lines = [...this.lines, line].slice(-MAX_KEPT);
    if (line.from === 'them') this.unread++;
  }

  markRead(): void {
    this.unread = 0;
  }
}
