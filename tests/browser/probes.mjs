// Probes that run inside the patient join page, shared by every engine's test: join.mjs
// (Chromium, playwright-core) and firefox.mjs (Firefox, puppeteer-core) pass them to
// page.evaluate; tests/tests/webkit.rs (WebKit, W3C WebDriver classic) sends this file's text
// with the `export`s taken off and calls one of them. Each function is self-contained:
// page.evaluate sends its source only, so nothing outside it is in scope.

/**
 * The device keys the page keeps in IndexedDB: each one's id (base64url SHA-256 of the raw
 * public key, as the page computes it), whether its private half is extractable, and whether
 * exporting it (pkcs8) nevertheless worked.
 */
export async function storedDevices() {
  const req = (r) =>
    new Promise((res, rej) => {
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
  const db = await req(indexedDB.open('bedside-join', 1));
  const pairs = await req(db.transaction('device-keys', 'readonly').objectStore('device-keys').getAll());
  db.close();
  const out = [];
  for (const pair of pairs) {
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
    let bin = '';
    for (const b of digest) bin += String.fromCharCode(b);
    let exported = false;
    try {
      await crypto.subtle.exportKey('pkcs8', pair.privateKey);
      exported = true;
    } catch {
      // expected: the private key is not extractable
    }
    out.push({
      id: btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
      extractable: pair.privateKey.extractable,
      exported,
    });
  }
  return out;
}

/** Keeps every CSP violation the browser reports in `window.__csp` ("directive blocked-uri"). */
export function cspListen() {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI || 'inline'}`),
  );
}

/**
 * The control for cspListen: an inline script injected now must be blocked by the relay's
 * CSP and reported, so an empty `window.__csp` means no violation, not a deaf listener.
 */
export async function cspProbe() {
  const before = window.__csp.length;
  const s = document.createElement('script');
  s.textContent = 'window.__inlineRan = true;';
  document.body.append(s);
  s.remove();
  await new Promise((f) => setTimeout(f, 300));
  return { ran: window.__inlineRan === true, reported: window.__csp.slice(before) };
}
