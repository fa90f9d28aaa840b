import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';

import { b64url, fromB64url, knockKey, sealText } from './crypto';
import { FakeSocket, fakeFetch } from './fakes';
import { t } from './i18n';
import JoinApp from './JoinApp.svelte';
import { parseLink } from './session';

const TOKEN =
  'AqChoqOkpaanqKmqq6ytrq_-gWtJ0gAAWgLerb7vAZLBemMi1Nk80QFNWuqLP7WVig0z1Zn4jzJB8heWTshrytU5gThRmFiPDJbt_CLZ2p4Qa4JE4GrIW_Cr-szZ2gI';
const SECRET = new Uint8Array(32).map((_, i) => 255 - i);
const SECRET_B64 = b64url(SECRET);
const INVITE = { clinic_name: 'Riverside Practice', not_before: 1_800_000_000, expires: 1_800_005_400 };

class FakeStream {
  stopped = 0;
  getTracks() {
    return [{ stop: () => void this.stopped++ }];
  }
}

function setup(
  opts: { status?: number; body?: unknown; media?: 'ok' | string; askDob?: boolean; hash?: string; rtc?: typeof RTCPeerConnection } = {},
) {
  const f = fakeFetch(opts.status ?? 200, opts.body ?? INVITE);
  const stream = new FakeStream();
  const gum = async () => {
    if (!opts.media || opts.media === 'ok') return stream as unknown as MediaStream;
    throw new DOMException('no', opts.media);
  };
  const user = userEvent.setup();
  render(JoinApp, {
    link: parseLink(`/j/${TOKEN}`, opts.hash ?? `#${SECRET_B64}`),
    askDob: opts.askDob ?? false,
    socketUrl: 'wss://relay.example.org/ws/patient',
    keyStore: null,
    fetchFn: f.fn,
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    getUserMedia: gum,
    ...(opts.rtc ? { RTCPeerConnectionImpl: opts.rtc } : {}),
  });
  return { f, user, stream };
}

afterEach(() => {
  FakeSocket.instances = [];
});

describe('JoinApp', () => {
  it('shows the clinic, the window in local time and the safety line; knocks; waits; shows messages', async () => {
    const { f, user, stream } = setup();
    expect(screen.getByTestId('safety').textContent).toContain('never asks for a password, a payment or an account');
    expect(await screen.findByRole('heading', { name: t.ready.title('Riverside Practice') })).toBeTruthy();
    const local = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(1_800_000_000_000));
    expect(screen.getByTestId('window').textContent).toContain(local);

    await user.click(screen.getByRole('button', { name: t.ready.start }));
    expect(await screen.findByText(t.device.ok)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: t.device.continue }));
    expect(screen.queryByLabelText(t.knock.dob)).toBeNull();
    await user.click(screen.getByRole('button', { name: t.knock.submit }));
    expect(screen.getByText(t.knock.nameRequired)).toBeTruthy();
    expect(FakeSocket.instances).toHaveLength(0);
    await user.type(screen.getByLabelText(t.knock.name), 'Ada Lovelace');
    await user.keyboard('{Enter}');

    const ws = FakeSocket.instances[0]!;
    ws.open();
    ws.receive({ type: 'welcome', ...INVITE });
    await waitFor(() => expect(ws.frames().map((m) => m.type)).toEqual(['hello', 'knock']));
    ws.receive({ type: 'waiting' });
    expect(await screen.findByRole('heading', { name: t.waiting.title })).toBeTruthy();
    // Clinician text arrives sealed for this device and opens in the page.
    const device = ws.frames()[0]!.device_id as string;
    const visit = parseLink(`/j/${TOKEN}`, '')!.visit;
    const sealed = async (kind: 'message' | 'deny', text: string, secret = SECRET) =>
      b64url(await sealText(secret, visit, device, kind, text));
    ws.receive({ type: 'message', sealed: await sealed('message', 'Five more minutes, please.') });
    expect((await screen.findByTestId('messages')).textContent).toContain('Five more minutes, please.');
    // Sealed for another link (or altered): dropped, with a plain notice.
    ws.receive({ type: 'message', sealed: await sealed('message', 'Injected', new Uint8Array(32)) });
    await waitFor(() => expect(screen.getByTestId('messages').textContent).toContain(t.waiting.unreadable));
    expect(screen.getByTestId('messages').textContent).not.toContain('Injected');
    // A deny reason sealed as a message does not open as a reason.
    expect(await sealed('message', 'x')).not.toBe(await sealed('deny', 'x'));

    // Every URL the page asked for, and every frame it sent, is free of the secret.
    const urls = [...f.urls, ...FakeSocket.instances.map((s) => s.url)];
    expect(urls).toEqual([`/api/invite/${TOKEN}`, 'wss://relay.example.org/ws/patient']);
    for (const s of [...urls, ...ws.sent]) expect(s).not.toContain(SECRET_B64);

    ws.receive({ type: 'denied', sealed: await sealed('deny', 'Please call the front desk.') });
    expect((await screen.findByTestId('reason')).textContent).toContain('Please call the front desk.');
    expect(stream.stopped).toBe(1);
  });

  it('explains a blocked camera and allows continuing without it; asks the date of birth when told', async () => {
    const { user } = setup({ media: 'NotAllowedError', askDob: true });
    await user.click(await screen.findByRole('button', { name: t.ready.start }));
    expect(await screen.findByText(t.device.denied)).toBeTruthy();
    expect(screen.getByText(t.device.deniedHelp)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: t.device.skip }));
    expect(screen.getByText(t.knock.noCamera)).toBeTruthy();
    expect(screen.getByLabelText(t.knock.dob)).toBeTruthy();
    await user.type(screen.getByLabelText(t.knock.name), 'Ada');
    await user.click(screen.getByRole('button', { name: t.knock.submit }));
    expect(screen.getByText(t.knock.dobRequired)).toBeTruthy();
    expect(FakeSocket.instances).toHaveLength(0);

    // Given, the date of birth goes into the sealed knock.
    await fireEvent.input(screen.getByLabelText(t.knock.dob), { target: { value: '1980-02-03' } });
    await user.click(screen.getByRole('button', { name: t.knock.submit }));
    const ws = FakeSocket.instances[0]!;
    ws.open();
    ws.receive({ type: 'welcome', ...INVITE });
    await waitFor(() => expect(ws.frames().map((m) => m.type)).toEqual(['hello', 'knock']));
    const sealed = fromB64url(ws.frames()[1]!.sealed as string);
    const key = await crypto.subtle.importKey('raw', (await knockKey(SECRET)) as BufferSource, 'AES-GCM', false, ['decrypt']);
    const visit = parseLink(`/j/${TOKEN}`, '')!.visit;
    const aad = new Uint8Array([...new TextEncoder().encode('bedside knock v1'), ...visit]);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: aad }, key, sealed.slice(12));
    expect(JSON.parse(new TextDecoder().decode(plain))).toEqual({ name: 'Ada', dob: '1980-02-03' });
  });

  it('says on the first card when this browser cannot make video calls (no RTCPeerConnection), not otherwise', async () => {
    setup();
    expect(await screen.findByTestId('no-calls')).toBeTruthy();
    expect(screen.getByTestId('no-calls').textContent).toBe(t.ready.noCalls);
    // The patient may still go on: the waiting room and the clinic's messages work without it.
    expect(screen.getByRole('button', { name: t.ready.start })).toBeTruthy();
    cleanup();

    setup({ rtc: class {} as unknown as typeof RTCPeerConnection });
    expect(await screen.findByRole('heading', { name: t.ready.title('Riverside Practice') })).toBeTruthy();
    expect(screen.queryByTestId('no-calls')).toBeNull();
  });

  it('reports a missing camera', async () => {
    const { user } = setup({ media: 'NotFoundError' });
    await user.click(await screen.findByRole('button', { name: t.ready.start }));
    expect(await screen.findByText(t.device.missing)).toBeTruthy();
  });

  it('shows when a link opens, and plain pages for other refusals', async () => {
    setup({ status: 403, body: { error: 'not_yet_valid', not_before: 1_800_000_000 } });
    expect(await screen.findByText(t.linkError.notYetOpen)).toBeTruthy();
    expect(screen.getByTestId('opens-at').textContent).toContain(
      new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(1_800_000_000_000)),
    );
  });

  it.each([
    [410, 'revoked', t.linkError.withdrawn],
    [410, 'expired', t.linkError.expired],
    [404, 'not_valid', t.linkError.invalid],
  ])('%i %s', async (status, error, text) => {
    setup({ status, body: { error, message: 'x' } });
    expect(await screen.findByText(text)).toBeTruthy();
  });

  it('a link without its secret cannot be used', async () => {
    setup({ hash: '' });
    expect(await screen.findByText(t.linkError.incomplete)).toBeTruthy();
  });

  it('asks to try again shortly when rate limited', async () => {
    const { user } = setup({ media: 'NotFoundError' });
    await user.click(await screen.findByRole('button', { name: t.ready.start }));
    await user.click(await screen.findByRole('button', { name: t.device.skip }));
    await user.type(screen.getByLabelText(t.knock.name), 'Ada');
    await user.click(screen.getByRole('button', { name: t.knock.submit }));
    const ws = FakeSocket.instances[0]!;
    ws.open();
    ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect(await screen.findByText(t.error.tryLater)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: t.error.retry }));
    expect(await screen.findByRole('heading', { name: t.ready.title('Riverside Practice') })).toBeTruthy();
  });
});
