import * as core from "@actions/core";
import type { ContainerCli } from "../container/cli.js";

/** Ensures the container CLI is present (and, unless `installed`, at the requested version). */
export async function ensureCli(cli: ContainerCli, wanted: string): Promise<string> {
  const have = await cli.version();
  if (wanted === "installed" || have === wanted) {
    if (!have) throw new Error("the Apple container CLI is not installed (container-version: installed)");
    core.info(`container CLI ${have}`);
    return have;
  }
  throw new Error(
    `container CLI ${have ?? "missing"}, but container-version asks for ${wanted}; install it or set container-version: installed`,
  );
}
