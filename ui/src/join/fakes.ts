// Test doubles for the join page: a WebSocket that records what is sent and
// a fetch that records every URL.

export class FakeSocket extends EventTarget {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closedWith: number | undefined;

  constructor(public url: string) {
    super();
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
    this.dispatchEvent(new Event('close'));
  }

  /** The server accepts the connection. */
  open(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }

  /** A frame from the relay. */
  receive(msg: unknown): void {
    this.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(msg) }));
  }

  frames(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

export function fakeFetch(status: number, body: unknown) {
  const urls: string[] = [];
  const fn = (async (input: RequestInfo | URL) => {
    urls.push(String(input));
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fn, urls };
}
