// Entry point of the patient join page (join.html, served by the relay at
// /j/<token>): reads the link, then mounts the page.

import { mount } from 'svelte';

import '../app.css';
import './join.css';
import JoinApp from './JoinApp.svelte';
import { parseLink, socketUrl } from './session';

const target = document.getElementById('join');
if (!target) throw new Error('missing #join');

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const media = navigator.mediaDevices;

export default mount(JoinApp, {
  target,
  props: {
    link: parseLink(location.pathname, location.hash),
    // Clinic policy may ask for the date of birth; the page is told so by
    // data-ask-dob="true" on #join. Off by default.
    askDob: target.dataset.askDob === 'true',
    socketUrl: socketUrl(location),
    storage: sessionStore(),
    getUserMedia: media?.getUserMedia ? (c: MediaStreamConstraints) => media.getUserMedia(c) : null,
  },
});
