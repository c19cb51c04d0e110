import * as tc from "@actions/tool-cache";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { OTHER_BOUNDS } from "../bounds.js";
import { TimeoutError } from "../errors.js";
import { displayUrl } from "../secrets.js";

/** A download the server refused: `status` is its HTTP status, when there was one. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DownloadError";
  }
}

/** The installer is ~120 MB, kubectl ~60 MB: half an hour is a stalled download on any CI network. */
const DOWNLOAD_TIMEOUT_S = OTHER_BOUNDS.download.seconds;

/**
 * Fetches `url` into a new temporary file: http(s) through the tool cache's downloader (with its
 * retries), file:// (a mirror on an air-gapped runner) by copying. Throws a DownloadError (the URL in it
 * shown by displayUrl), or a TimeoutError after OTHER_BOUNDS.download.
 */
export async function download(url: string): Promise<string> {
  if (url.startsWith("file://")) {
    const dest = path.join(process.env.RUNNER_TEMP || os.tmpdir(), randomUUID());
    await fs.copyFile(fileURLToPath(url), dest);
    return dest;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    // The tool cache's downloader takes no signal: the bound ends the wait, and the step with it.
    return await Promise.race([
      tc.downloadTool(url),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new TimeoutError(
                `downloading ${displayUrl(url)}`,
                DOWNLOAD_TIMEOUT_S,
                "Check the runner's network or proxy, or use a mirror (installer-url, kubectl-url).",
                "did not finish",
              ),
            ),
          DOWNLOAD_TIMEOUT_S * 1000,
        );
        timer.unref();
      }),
    ]);
  } catch (err) {
    if (err instanceof TimeoutError) throw err;
    const status = (err as { httpStatusCode?: number }).httpStatusCode;
    throw new DownloadError(
      `could not download ${displayUrl(url)}: ${status ? `HTTP ${status}` : err instanceof Error ? err.message : String(err)}`,
      status,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Throws when the file's SHA-256 is not `expected` (hex, any case). */
export async function verifySha256(file: string, expected: string, what: string): Promise<void> {
  const actual = await sha256File(file);
  if (actual !== expected.trim().toLowerCase()) {
    throw new Error(
      `${what} failed its checksum: expected sha256 ${expected.trim().toLowerCase()}, got ${actual}`,
    );
  }
}
