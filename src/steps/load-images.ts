import { sameImage, type ContainerCli } from "../container/cli.js";
import type { VmNode } from "./node-vm.js";

/**
 * Fails, before any VM exists, when a load-images entry is not on this Mac: loading happens after the
 * cluster is up, minutes later.
 */
export async function checkLoadImages(cli: ContainerCli, images: string[]): Promise<void> {
  if (!images.length) return;
  const have = await cli.images();
  const missing = images.filter((i) => !have.some((h) => sameImage(i, h)));
  if (!missing.length) return;
  throw new Error(
    `load-images names ${missing.length === 1 ? "an image" : "images"} this Mac does not have (\`container image ls\`): ` +
      `${missing.join(", ")}. Pull ${missing.length === 1 ? "it" : "them"} in an earlier step ` +
      `(${missing.map((m) => `\`container image pull ${m}\``).join(", ")}) or fix the name.`,
  );
}

/**
 * Streams host images into each node's containerd (k8s.io namespace) and checks the CRI sees them; the
 * nodes in parallel, each its images in turn, every node settled before the first failure is thrown.
 */
export async function loadImages(
  cli: ContainerCli,
  nodes: VmNode | VmNode[],
  images: string[],
): Promise<void> {
  const all = Array.isArray(nodes) ? nodes : [nodes];
  const settled = await Promise.allSettled(all.map((n) => loadInto(cli, n, images)));
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function loadInto(cli: ContainerCli, node: VmNode, images: string[]): Promise<void> {
  for (const image of images) {
    await cli.pipeImageInto(image, node.name, ["ctr", "-n", "k8s.io", "images", "import", "-"]);
    const seen = await cli.exec(node.name, ["crictl", "inspecti", image], { allowFailure: true });
    if (seen.code !== 0)
      throw new Error(
        `image ${image} was imported into ${node.name} but the CRI does not list it: ${seen.stderr.trim()}`,
      );
  }
}
