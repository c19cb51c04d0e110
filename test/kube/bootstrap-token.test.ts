// Creating the join token through the API, against the HTTPS stand-in API server: the Secret the
// server then honours for discovery and TLS bootstrap, expiry, a duplicate id, and a server that never
// answers.
import { createServer, type Socket } from "node:net";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { generateBootstrapToken, parseBootstrapToken } from "../../src/builders/bootstrap-token.js";
import { createBootstrapToken, JOIN_TOKEN_TTL_MS } from "../../src/kube/bootstrap-token.js";
import { apiStatus } from "../../src/errors.js";
import { type ApiServer, startApiServer } from "../sim/kube/apiserver.ts";

const NODE_IP = "127.0.64.2";
let server: ApiServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(): Promise<{ s: ApiServer; kc: KubeConfig }> {
  server = await startApiServer({
    listen: [{ host: NODE_IP, port: 0 }],
    nodeName: "kina-control-plane",
    nodeIP: NODE_IP,
  });
  const kc = new KubeConfig();
  kc.loadFromString(server.adminKubeconfig(server.urls[0]!));
  return { s: server, kc };
}

describe("createBootstrapToken", () => {
  it("creates the Secret the API server honours for discovery and TLS bootstrap, expiring after the TTL", async () => {
    const { s, kc } = await start();
    const token = generateBootstrapToken();
    const now = new Date();
    const expiration = await createBootstrapToken(kc, token, { now });
    expect(expiration.getTime() - now.getTime()).toBe(JOIN_TOKEN_TTL_MS);
    expect(JOIN_TOKEN_TTL_MS).toBe(15 * 60_000);
    expect(s.bootstrapTokenProblem(token.value, "discovery")).toBeUndefined();
    expect(s.bootstrapTokenProblem(token.value, "tls-bootstrap")).toBeUndefined();

    const secret = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: `bootstrap-token-${token.id}`, namespace: "kube-system" });
    expect(secret.type).toBe("bootstrap.kubernetes.io/token");
    expect(Buffer.from(secret.data?.expiration ?? "", "base64").toString()).toBe(
      expiration.toISOString().replace(/\.\d{3}Z$/, "Z"),
    );
    // The server takes no other secret for this id, and no other id.
    const wrongSecret = parseBootstrapToken(`${token.id}.${"0".repeat(16)}`)!;
    expect(s.bootstrapTokenProblem(wrongSecret.value, "discovery")).toMatch(/does not match/);
    expect(s.bootstrapTokenProblem(generateBootstrapToken().value, "discovery")).toMatch(
      /no bootstrap token/,
    );
  });

  it("makes a token the server refuses once its expiration has passed", async () => {
    const { s, kc } = await start();
    const token = generateBootstrapToken();
    await createBootstrapToken(kc, token, { now: new Date(Date.now() - JOIN_TOKEN_TTL_MS - 1000) });
    expect(s.bootstrapTokenProblem(token.value, "discovery")).toMatch(/has expired/);
    expect(s.bootstrapTokenProblem(token.value, "tls-bootstrap")).toMatch(/has expired/);
  });

  it("fails with the API's 409 when a token with the same id exists", async () => {
    const { kc } = await start();
    const token = generateBootstrapToken();
    await createBootstrapToken(kc, token);
    const err = await createBootstrapToken(kc, token).catch((e: unknown) => e);
    expect(apiStatus(err)?.code).toBe(409);
  });

  it("gives up after its bound on a server that accepts connections and never answers", async () => {
    const { kc } = await start();
    const sockets = new Set<Socket>();
    const mute = createServer((c) => sockets.add(c));
    await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
    const port = (mute.address() as { port: number }).port;
    const cluster = kc.getCurrentCluster()!;
    kc.clusters = [{ ...cluster, server: `https://127.0.0.1:${port}` }];
    const started = performance.now();
    try {
      const token = generateBootstrapToken();
      await expect(createBootstrapToken(kc, token, { timeoutMs: 300 })).rejects.toThrow(
        `the API server did not answer the creation of bootstrap token ${token.id} within 0.3s`,
      );
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      for (const c of sockets) c.destroy();
      await new Promise((resolve) => mute.close(resolve));
    }
  });
});
