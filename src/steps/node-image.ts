import * as core from "@actions/core";
import type { ContainerCli } from "../container/cli.js";

export interface NodeImageResult {
  image: string;
  /** True when the image had to be pulled. */
  pulled: boolean;
}

/** Image references compare without the digest suffix that `image ls` may or may not show. */
export function sameImage(a: string, b: string): boolean {
  const norm = (r: string) => r.replace(/^docker\.io\/(library\/)?/, "");
  return norm(a) === norm(b) || norm(a).split("@")[0] === norm(b) || norm(a) === norm(b).split("@")[0];
}

export async function ensureNodeImage(cli: ContainerCli, image: string): Promise<NodeImageResult> {
  const refs = await cli.imageRefs();
  if (refs.some((r) => sameImage(r, image))) {
    core.info(`node image ${image} is already present`);
    return { image, pulled: false };
  }
  await cli.call(["image", "pull", image], { show: true });
  return { image, pulled: true };
}
