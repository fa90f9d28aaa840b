import { describe, expect, it } from 'vitest';

import { charCount, ChatLog, checkText, encodeMessage, MAX_KEPT, MAX_MESSAGE_BYTES, MAX_TEXT_CHARS, newId, parseMessage, RateLimit } from './chat';

const frame = (over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, kind: 'text', id: 'm-1', text: 'Hello', sentAt: 1_800_000_000_000, ...over });

describe('chat messages', () => {
  it('round-trip through the wire format the Rust core reads', () => {
    const m = { id: newId(), text: 'Line one\nline two 🙂', sentAt: 1_800_000_000_123 };
    expect(m.id).toMatch(/^[0-9a-f]{32}$/);
    const wire = encodeMessage(m);
    expect(JSON.parse(wire)).toEqual({ v: 1, kind: 'text', id: m.id, text: m.text, sentAt: m.sentAt });
    expect(parseMessage(wire)).toEqual({ ok: true, value: m });
  });

  it('count characters as a person does, up to 2,000', () => {
    expect(charCount('🙂é')).toBe(2);
    expect(checkText('🙂'.repeat(MAX_TEXT_CHARS))).toBeNull();
    expect(checkText('a'.repeat(MAX_TEXT_CHARS + 1))).toBe('too_long');
    expect(checkText('  \n ')).toBe('empty');
    expect(checkText('bell\u0007')).toBe('bad_characters');
    expect(checkText('tab\tand\r\nbreaks')).toBeNull();
  });

  it('refuse what is too large before parsing, binary frames, and anything not exactly a v1 text', () => {
    expect(parseMessage('x'.repeat(MAX_MESSAGE_BYTES + 1))).toEqual({ ok: false, reason: 'too_large' });
    expect(parseMessage(new ArrayBuffer(4))).toEqual({ ok: false, reason: 'binary' });
    const cases: [string, string][] = [
      ['{', 'malformed'],
      ['[1]', 'malformed'],
      ['null', 'malformed'],
      [frame({ extra: 1 }), 'malformed'],
      [frame({ v: 2 }), 'unsupported_version'],
      [frame({ kind: 'file' }), 'unknown_kind'],
      [frame({ id: 'a b' }), 'malformed'],
      [frame({ id: '' }), 'malformed'],
      [frame({ sentAt: -1 }), 'malformed'],
      [frame({ sentAt: 1.5 }), 'malformed'],
      [frame({ text: 7 }), 'malformed'],
      [frame({ text: 'x'.repeat(MAX_TEXT_CHARS + 1) }), 'too_long'],
      [frame({ text: ' ' }), 'empty'],
      [JSON.stringify({ v: 1, kind: 'text', id: 'a', text: 'hi' }), 'malformed'],
    ];
    for (const [input, reason] of cases) expect(parseMessage(input), input).toEqual({ ok: false, reason });
  });

  it('rate-limit with a token bucket', () => {
    const l = new RateLimit(3, 1);
    expect([l.take(0), l.take(0), l.take(0), l.take(0)]).toEqual([true, true, true, false]);
    expect(l.take(500)).toBe(false);
    expect(l.take(1600)).toBe(true);
  });

  it('keep a bounded log with an unread count of incoming messages', () => {
    const log = new ChatLog();
    log.add({ id: 'a', text: 'x', sentAt: 1, from: 'them' });
    log.add({ id: 'a', text: 'x', sentAt: 1, from: 'them' });
    log.add({ id: 'a', text: 'y', sentAt: 2, from: 'me' });
    expect(log.lines).toHaveLength(2);
    expect(log.unread).toBe(1);
    log.markRead();
    expect(log.unread).toBe(0);
    for (let i = 0; i < MAX_KEPT + 10; i++) log.add({ id: `n${i}`, text: 't', sentAt: i, from: 'me' });
    expect(log.lines).toHaveLength(MAX_KEPT);
    expect(log.lines.at(-1)!.id).toBe(`n${MAX_KEPT + 9}`);
  });
});
