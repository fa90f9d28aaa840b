// Entry point of the patient join page (join.html, served by the relay at
// /j/<token>): reads the link, then mounts the page.

import { mount } from 'svelte';

import '../app.css';
import './join.css';
import JoinApp from './JoinApp.svelte';
import { parseLink, socketUrl } from './session';

const target = document.getElementById('join');
if (!target) throw new Error('missing #join');

// The device key's store; reading `indexedDB` can throw where storage is
// blocked, and the page then keeps the key in memory (device.ts).
function keyStore(): IDBFactory | null {
  try {
    return window.indexedDB ?? null;
  } catch {
    return null;
  }
}

const media = navigator.mediaDevices;

const link = parseLink(location.pathname, location.hash);

export default mount(JoinApp, {
  target,
  props: {
    link,
    // Clinic policy may ask for the date of birth: a flag the clinic signed
    // into the token, so the relay cannot turn it on or off.
    askDob: link?.askDob ?? false,
    socketUrl: socketUrl(location),
    keyStore: keyStore(),
    getUserMedia: media?.getUserMedia ? (c: MediaStreamConstraints) => media.getUserMedia(c) : null,
  },
});
