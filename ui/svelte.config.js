// Used by svelte-check and editors; the Vite plugin reads its options from vite.config.ts.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { css: 'external' },
};
