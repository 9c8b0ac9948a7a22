import { defineConfig } from 'vite';

/**
 * The demo SPA, served on its own origin (port 5173) and calling the API on another
 * (VITE_API_URL, default http://localhost:4000/graphql): CORS is exercised for real.
 */
export default defineConfig({
  root: __dirname,
  server: { port: 5173, strictPort: false },
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: 'dist', emptyOutDir: true },
});
