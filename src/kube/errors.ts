/** The HTTP code and the Status message of a client-node ApiException, whose own message is a dump. */
export function apiStatus(err: unknown): { code: number; message: string } | undefined {
  const e = err as { code?: unknown; body?: unknown };
  if (typeof e?.code !== "number" || e.body === undefined) return undefined;
  let message = typeof e.body === "string" ? e.body : JSON.stringify(e.body);
  try {
    const status = (typeof e.body === "string" ? JSON.parse(e.body) : e.body) as { message?: string };
    if (status?.message) message = status.message;
  } catch {
    // not JSON: keep the raw body
  }
  return { code: e.code, message: message.slice(0, 500) };
}
