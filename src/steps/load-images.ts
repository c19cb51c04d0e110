import type { ContainerCli } from "../container/cli.js";
import type { NodeVm } from "./node-vm.js";

/** Streams host images into the node's containerd (k8s.io namespace) and checks the CRI sees them. */
export async function loadImages(cli: ContainerCli, node: NodeVm, images: string[]): Promise<void> {
  for (const image of images) {
    await cli.pipeImageInto(image, node.name, ["ctr", "-n", "k8s.io", "images", "import", "-"]);
    const seen = await cli.exec(node.name, ["crictl", "inspecti", image], { allowFailure: true });
    if (seen.code !== 0)
      throw new Error(`image ${image} was imported but the CRI does not list it: ${seen.stderr.trim()}`);
  }
}
