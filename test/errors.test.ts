// What the user reads about a failure: the ::error:: line and failure.txt.
import { describe, expect, it } from "vitest";
import { ContainerError } from "../src/container/cli.js";
import { describeFailure, failureMessage, PhaseError, ScriptStepError, TimeoutError } from "../src/errors.js";

const NODE = "kina-control-plane";

/** `fetch failed` as undici throws it, with the socket error under it. */
function fetchFailed(code: string, message: string): TypeError {
  const cause = Object.assign(new Error(message), { code });
  return new TypeError("fetch failed", { cause });
}

describe("describeFailure", () => {
  it("gives the step, the command, its exit code and its stderr", () => {
    const err = new PhaseError(
      "kubeadm init",
      new ContainerError(
        ["exec", NODE, "kubeadm", "init"],
        1,
        "[ERROR CRI]: runtime down\nerror execution phase preflight\n",
      ),
    );
    expect(describeFailure(err)).toBe(
      [
        "failed step: kubeadm init",
        `error: 'container exec ${NODE} kubeadm init' exited 1: [ERROR CRI]: runtime down | error execution phase preflight`,
        `command: container exec ${NODE} kubeadm init`,
        "exit code: 1",
        "stderr:",
        "[ERROR CRI]: runtime down",
        "error execution phase preflight",
        "",
      ].join("\n"),
    );
  });

  it("finds the command under a wrapping error, and lists the causes", () => {
    const inner = new ContainerError(["image", "pull", "x"], 1, "Error: reset");
    const err = new PhaseError(
      "Kernel and node image",
      new Error("could not get the node image", { cause: inner }),
    );
    const text = describeFailure(err);
    expect(text).toContain("failed step: Kernel and node image\nerror: could not get the node image\n");
    expect(text).toContain("caused by: 'container image pull x' exited 1: Error: reset\n");
    expect(text).toContain("command: container image pull x\nexit code: 1\nstderr:\nError: reset\n");
  });

  it("says 'unknown' for an error outside any step", () => {
    expect(describeFailure("boom")).toBe("failed step: unknown\nerror: boom\n");
  });
});

describe("failureMessage", () => {
  it("adds the socket error that 'fetch failed' hides", () => {
    const err = new PhaseError(
      "Untaint control plane",
      fetchFailed("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:6443"),
    );
    expect(failureMessage(err)).toBe(
      "Untaint control plane: fetch failed (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6443)",
    );
  });

  it("leaves a message that already explains itself", () => {
    const err = new PhaseError(
      "Readiness",
      new Error("not ready within the wait budget (5s)", { cause: new Error("budget") }),
    );
    expect(failureMessage(err)).toBe("Readiness: not ready within the wait budget (5s)");
  });
});

describe("one line for ::error::", () => {
  it("names an operation that did not answer, how long it waited, and what to try", () => {
    const err = new PhaseError(
      "Container service",
      new TimeoutError("`container system status`", 15, "Restart it."),
    );
    expect(failureMessage(err)).toBe(
      "Container service: `container system status` did not answer within 15s. Restart it.",
    );
  });

  it("names the failing step of a node script with its own output, on one line", () => {
    const err = new PhaseError(
      "Node preparation",
      new ScriptStepError(
        ["container", "exec", NODE, "sh", "-c", "<node preparation>"],
        "systemctl restart containerd",
        3,
        7,
        1,
        "Job failed.\nSee logs.\n",
      ),
    );
    expect(failureMessage(err)).toBe(
      "Node preparation: step 3 of 7, `systemctl restart containerd`, failed (exit 1): Job failed. | See logs.",
    );
    expect(describeFailure(err)).toContain("output:\nJob failed.\nSee logs.\n");
  });

  it("blanks credentials", () => {
    const err = new PhaseError(
      "Node VM",
      new Error("could not reach http://bot:hunter22@proxy.example:3128"),
    );
    expect(failureMessage(err)).toBe("Node VM: could not reach http://***:***@proxy.example:3128");
  });
});
