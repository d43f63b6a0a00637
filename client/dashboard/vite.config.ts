import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
/** `npm start`'s server; `npm run dev:dashboard` proxies the API to it. */
const apiTarget = process.env.DASHBOARD_API ?? 'http://127.0.0.1:8000';

/**
 * The dashboard: `npm run build` (or `npm run build:dashboard` alone) writes
 * dist/dashboard at the package's root, next to the bundled server, which
 * serves it at `/`; `npm run dev:dashboard` serves it with hot reload
 * and forwards the API (HTTP and WebSocket) to a running server.
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    // Relative to `root` (client/dashboard): the package's dist/dashboard.
    outDir: '../../dist/dashboard',
    emptyOutDir: true,
    // Source maps carry the whole source: built only on request (DASHBOARD_SOURCEMAP=true
    // npm run build:dashboard), never by default. The server refuses to serve *.map either way.
    sourcemap: process.env.DASHBOARD_SOURCEMAP === 'true',
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target: apiTarget, ws: true },
      '/dashboard-config.json': { target: apiTarget },
    },
  },
});
