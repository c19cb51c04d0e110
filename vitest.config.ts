import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests spawn the bundled action and simulator; two cores do not gain from more workers.
    maxWorkers: 2,
    // Tests change the environment only through vi.stubEnv; it is restored after each test.
    unstubEnvs: true,
  },
});
