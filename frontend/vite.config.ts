/// <reference types="vitest/config" />
// Vite builds the page into dist/ (served by `pretty-meter serve` at /); Vitest runs the unit tests.
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: the page works at / and under any path prefix the service is given.
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 280,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
  },
});
