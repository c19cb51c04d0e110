import { createHash } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";

/** Labels this action puts on each node it creates. */
export const LABEL = {
  createdBy: "io.kina.created-by",
  cluster: "io.kina.cluster",
  role: "io.kina.role",
  /** RUNNER_NAME, for people: unique only per repository/organisation registration. */
  runner: "io.kina.runner",
  /** runnerId(): which runner install on this Mac created the node. */
  runnerId: "io.kina.runner-id",
  job: "io.kina.job",
  /** When the node was created (ISO 8601): how old a leftover is. */
  createdAt: "io.kina.created-at",
} as const;
export const CREATED_BY = "kina-setup-cluster";

/** Labels enough to tell a node's owner (a container's `labels`). */
export interface Labelled {
  labels: Record<string, string>;
}

/** RUNNER_NAME, or the host name outside a runner: what people call the runner. */
export function runnerName(env: NodeJS.ProcessEnv): string {
  return env.RUNNER_NAME || os.hostname();
}

/**
 * The runner install on this Mac, as 16 hex digits. RUNNER_NAME alone is not enough: it defaults to
 * the host name and is unique only within one repository's or organisation's registration, so two
 * runner installs on one Mac can share it. Each install has its own work folder, and RUNNER_TEMP is
 * `<work folder>/_temp` in it ("RUNNER_TEMP: the path to a temporary directory on the runner",
 * https://docs.github.com/en/actions/reference/workflows-and-actions/variables#default-environment-variables;
 * the runner keeps it as `_temp` in the work folder `config.sh --work` chose). RUNNER_WORKSPACE
 * (`<work folder>/<repository>`, set by the runner though not in that list) is the fallback. Hashed, so
 * a label does not spell the runner's paths.
 */
export function runnerId(env: NodeJS.ProcessEnv): string {
  const folder = env.RUNNER_TEMP || (env.RUNNER_WORKSPACE ? path.dirname(env.RUNNER_WORKSPACE) : "");
  return createHash("sha256")
    .update(`${runnerName(env)}\0${folder}`)
    .digest("hex")
    .slice(0, 16);
}

/** `owner/repo/run_id/run_attempt/job`: the same in a job's main and post steps ("local" outside Actions). */
export function jobLabel(env: NodeJS.ProcessEnv): string {
  return (
    [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_RUN_ATTEMPT, env.GITHUB_JOB]
      .filter(Boolean)
      .join("/") || "local"
  );
}

/** The labels that say who owns a node made now (with LABEL.createdBy). */
export function ownerLabels(env: NodeJS.ProcessEnv): Record<string, string> {
  return {
    [LABEL.runner]: runnerName(env),
    [LABEL.runnerId]: runnerId(env),
    [LABEL.job]: jobLabel(env),
  };
}

/**
 * Made by this action on this runner install (its runner-id label). A runner runs one job at a time, so
 * such a container is this job's or an earlier job's leftover. Nodes from before the runner-id label
 * (RUNNER_NAME only) are never this runner's: another install may share the name.
 */
export function ownedByThisRunner(c: Labelled, env: NodeJS.ProcessEnv): boolean {
  return c.labels[LABEL.createdBy] === CREATED_BY && c.labels[LABEL.runnerId] === runnerId(env);
}

/** Made by this very job (its main step) on this runner install: what this job's post may remove. */
export function ownedByThisJob(c: Labelled, env: NodeJS.ProcessEnv): boolean {
  return ownedByThisRunner(c, env) && c.labels[LABEL.job] === jobLabel(env);
}
