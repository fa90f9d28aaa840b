// Entry point: wires the app store to Tauri's IPC and mounts the UI.

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { mount } from 'svelte';

import './app.css';
import App from './App.svelte';
import { createApi } from './lib/api';
import type { ListenFn } from './lib/events';
import type { MakeChannel } from './lib/stores/visit';
import { createAppStore } from './lib/stores/app';

const listenToShell: ListenFn = (event, handler) => listen(event, (e) => handler(e.payload));

const api = createApi(invoke);
// The visit room's streams (call updates, video frames) come over Tauri Channels.
const makeChannel: MakeChannel = <T>() => new Channel<T>();
const store = createAppStore({ api, listen: listenToShell });

// Linux's WebKitGTK pays for every font family it cannot find: app.css gives it the generic ones.
if (/\bLinux\b/.test(navigator.userAgent) && !/\bAndroid\b/.test(navigator.userAgent)) {
  document.documentElement.dataset.platform = 'linux';
}

function mountApp(): void {
  const target = document.getElementById('app');
  if (!target) throw new Error('missing #app');
  mount(App, { target, props: { store, policyApi: api, listen: listenToShell, makeChannel } });
}

// index.html loads this script `async`, so the document is parsed — and Tauri's isolation frame,
// made on DOMContentLoaded, starts loading — while the script is still fetched and compiled.
// The document is one small response, so it is almost always parsed by now; if not, wait for it.
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mountApp, { once: true });
} else {
  mountApp();
}
