// Vite configuration for the patient join page (join.html → dist-join/),
// served by the relay: the page at /j/<token>, its files at /assets/...
//
// The relay's CSP allows no inline script or style, so, as for the app,
// component CSS is extracted and nothing is inlined.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [svelte({ compilerOptions: { css: 'external' } })],
  base: '/',
  clearScreen: false,
  build: {
    outDir: 'dist-join',
    emptyOutDir: true,
    target: 'safari15',
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    rollupOptions: { input: 'join.html' },
  },
});
