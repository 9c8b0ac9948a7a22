import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';

/**
 * Development's `GET /graphql`: Apollo Sandbox, opened on the flow's operations with the
 * Authorization header ready, when its CDN can be reached; otherwise (offline, a CDN blocked by a
 * proxy) the browser goes on to the IDE this service serves itself. Apollo's own page would stop
 * at "Sandbox cannot be loaded".
 */
export function sandboxWithOfflineFallback(options: { document: string; fallbackPath: string }): ApolloServerPlugin {
  const sandbox = ApolloServerPluginLandingPageLocalDefault({
    embed: true,
    document: options.document,
    headers: { Authorization: 'Bearer ' },
  });
  return {
    async serverWillStart(service) {
      const listener = await sandbox.serverWillStart!(service);
      return {
        async renderLandingPage() {
          const page = await listener!.renderLandingPage!();
          const html = typeof page.html === 'string' ? page.html : await page.html();
          // Right after the Sandbox script tag: it either defined EmbeddedSandbox or failed to load.
          const fallback = (nonce: string) =>
            `<script nonce="${nonce}">if (!window.EmbeddedSandbox) window.location.replace(${JSON.stringify(options.fallbackPath)});</script>`;
          return {
            html: html.replace(
              /(<script nonce="([^"]+)" src="https:\/\/embeddable-sandbox[^"]*"><\/script>)/,
              (tag, _all, nonce) => `${tag}\n${fallback(nonce)}`,
            ),
          };
        },
      };
    },
  };
}
