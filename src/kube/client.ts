// The action's Kubernetes client: the kubeconfig it wrote (from an allowlist, builders/kubeconfig.ts),
// and a bound on every request.
import * as net from "node:net";
import * as tls from "node:tls";
import { OTHER_BOUNDS } from "../bounds.js";
import type {
  ConfigurationOptions,
  KubeConfig,
  RequestContext,
  ResponseContext,
} from "@kubernetes/client-node";

/** Bound on one API request that is not a watch: a live API server answers in milliseconds. */
export const REQUEST_TIMEOUT_MS = OTHER_BOUNDS.apiRequest.seconds * 1000;

export async function loadKubeConfig(path: string): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * Request options that bind a client-node call to `signal` (default: REQUEST_TIMEOUT_MS from now): the
 * fetch is aborted and the request's own dispatcher (client-node makes one per request) destroyed,
 * closing its kept-alive socket.
 */
export async function bounded(
  signal: AbortSignal = AbortSignal.timeout(REQUEST_TIMEOUT_MS),
): Promise<ConfigurationOptions> {
  const { Observable } = await import("@kubernetes/client-node");
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          const dispatcher = ctx.getDispatcher() as { destroy?: () => Promise<void> } | undefined;
          const destroy = () => void dispatcher?.destroy?.().catch(() => undefined);
          if (signal.aborted) destroy();
          else signal.addEventListener("abort", destroy, { once: true });
          return new Observable(Promise.resolve(ctx));
        },
        post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/**
 * Why the server at `url` cannot be reached, or undefined when it completes a TLS handshake within `ms`
 * (a plain TCP connect for http). A socket of our own can be closed mid-handshake; one of undici's
 * lingers until its connect timeout. The `code` is the socket error's (ECONNRESET…) or TIMEOUT.
 */
export function probeServer(url: string, ms: number): Promise<{ code: string; message: string } | undefined> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  const port = Number(u.port || (secure ? 443 : 80));
  return new Promise((resolve) => {
    const sock = secure
      ? tls.connect({
          host: u.hostname,
          port,
          rejectUnauthorized: false,
          ...(net.isIP(u.hostname) ? {} : { servername: u.hostname }),
        })
      : net.connect({ host: u.hostname, port });
    const done = (why?: { code: string; message: string }) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const timer = setTimeout(
      () =>
        done({
          code: "TIMEOUT",
          message: `no ${secure ? "TLS handshake" : "connection"} within ${ms / 1000}s`,
        }),
      ms,
    );
    sock.once(secure ? "secureConnect" : "connect", () => done());
    sock.once("error", (e: NodeJS.ErrnoException) => done({ code: e.code ?? "ERROR", message: e.message }));
  });
}
