import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The clearing console and the public market board: static assets built into dist/web and
// served by the API process itself (no second server).
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: resolve(import.meta.dirname, '../../../dist/web'),
    emptyOutDir: true,
    rollupOptions: { input: { index: resolve(import.meta.dirname, 'index.html'), market: resolve(import.meta.dirname, 'market.html') } },
  },
});
