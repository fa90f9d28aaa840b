// Vite + vitest configuration for the Bedside UI.
//
// The app runs under a strict CSP (no inline script, no inline style), so the
// build must emit every script and stylesheet as a file: Svelte component CSS
// is extracted (`css: 'external'`) and bundled into one <link>ed stylesheet.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    svelte({ compilerOptions: { css: 'external' } }),
    svelteTesting(),
  ],
  // Tauri serves ui/dist from its own origin: relative paths keep that simple.
  base: './',
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: '127.0.0.1',
    // Tests read the call-auth vectors the Rust core is pinned to.
    fs: { allow: ['.', '../crates/bedside-visit/testdata'] },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    // Never inline assets as data: URLs or scripts; the CSP allows data: only
    // for images, and we keep even that to the QR code.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    restoreMocks: true,
    // contrast.test.ts reads the palette with `?raw`; vitest blanks CSS it does not process.
    css: { include: [/\/src\/app\.css/, /\/src\/join\/join\.css/] },
  },
});
