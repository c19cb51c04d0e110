// Credentials the action handles or passes on: registered with the runner (core.setSecret, so the runner
// masks them in its log) before anything is printed, and blanked by redact() in whatever the action
// prints or writes itself (command lines it echoes, diagnostics files, which the runner never masks).
import * as core from "@actions/core";

/** Shorter values are not registered: the runner would mask every occurrence of, say, "pw". */
const MIN_SECRET_LENGTH = 4;

const known = new Set<string>();

/** Registers `value` with the runner (::add-mask::) and with redact(). */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || known.has(value)) return;
  known.add(value);
  core.setSecret(value);
}

/** HTTP_PROXY, https_proxy, ALL_PROXY, NO_PROXY, FTP_PROXY, SOCKS_PROXY… in any case. */
export const PROXY_VARIABLE = /^(?:https?|all|no|ftp|socks5?h?|rsync|grpc)_proxy$/i;

/**
 * The credentials in proxy-style variables: for each URL with userinfo (`scheme://user:pass@host`, or
 * `user:pass@host` without a scheme), the userinfo as written, the password (or a lone user name, which
 * carries tokens) as written, and percent-decoded when that differs. Values may be comma lists.
 */
export function proxyCredentials(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value || !PROXY_VARIABLE.test(name)) continue;
    for (const entry of value.split(/[\s,]+/)) {
      const rest = entry.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
      const authority = rest.split(/[/?#]/)[0] ?? "";
      const at = authority.lastIndexOf("@");
      if (at <= 0) continue;
      const userinfo = authority.slice(0, at);
      const colon = userinfo.indexOf(":");
      const secret = colon >= 0 ? userinfo.slice(colon + 1) : userinfo;
      for (const s of [userinfo, secret]) {
        out.add(s);
        try {
          out.add(decodeURIComponent(s));
        } catch {
          // not valid percent-encoding: the raw form is all there is
        }
      }
    }
  }
  return [...out].filter((s) => s.length > 0);
}

/** Registers every proxy credential in the environment; call before anything is printed. */
export function maskProxyCredentials(env: NodeJS.ProcessEnv = process.env): void {
  for (const s of proxyCredentials(env)) registerSecret(s);
}

/** Bootstrap tokens as kubeadm prints them ([a-z0-9]{6}.[a-z0-9]{16}, kubeadm's token format). */
const BOOTSTRAP_TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g;

/**
 * `text` with every registered secret, URL userinfo, kubeadm join secret, bootstrap token, PEM private
 * key and kubeconfig credential field blanked.
 */
export function redact(text: string): string {
  let out = text;
  for (const s of [...known].sort((a, b) => b.length - a.length)) out = out.split(s).join("***");
  return (
    out
      // scheme://user:pass@host; the password may hold a raw '@': the last '@' before the host ends it.
      .replace(
        /(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/?#"',]+)@(?=[^\s/?#"',@]+)/gi,
        (_m, scheme: string, ui: string) => (ui.includes(":") ? `${scheme}***:***@` : `${scheme}***@`),
      )
      .replace(/(--(?:token|certificate-key)[= ]+)[^\s\\]+/g, "$1***")
      .replace(BOOTSTRAP_TOKEN, "******.****************")
      .replace(
        /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g,
        "-----BEGIN $1PRIVATE KEY----- (redacted) -----END $1PRIVATE KEY-----",
      )
      .replace(/\b(client-key-data|token|password)(["']?\s*[:=]\s*["']?)[^\s"',}]+/g, "$1$2***")
  );
}

const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

/**
 * `url` as it may be printed: userinfo as `***:***@` (or `***@`), every query value as `***`. Mirror URLs
 * carry credentials in both (`https://user:TOKEN@mirror/…`, `…?token=…`).
 */
export function displayUrl(url: string): string {
  const q = url.indexOf("?");
  const head = (q < 0 ? url : url.slice(0, q)).replace(URL_USERINFO, (_m, scheme: string, ui: string) =>
    ui.includes(":") ? `${scheme}***:***@` : `${scheme}***@`,
  );
  if (q < 0) return head;
  const hash = url.indexOf("#", q);
  const query = url.slice(q, hash < 0 ? undefined : hash).replace(/([?&][^=&]*=)[^&]*/g, "$1***");
  return head + query + (hash < 0 ? "" : url.slice(hash));
}

/**
 * Registers the credentials a URL carries (its userinfo and query values, as written and
 * percent-decoded), so the runner masks them wherever they appear (the tool cache's own debug lines).
 */
export function registerUrlSecrets(url: string | undefined): void {
  if (!url) return;
  const values: string[] = [];
  const ui = URL_USERINFO.exec(url.split("?")[0] ?? "")?.[2];
  // The password, or a lone user name (which carries tokens); a user name beside a password is not secret.
  if (ui) values.push(ui, ui.includes(":") ? ui.slice(ui.indexOf(":") + 1) : ui);
  const q = url.indexOf("?");
  if (q >= 0)
    for (const pair of url
      .slice(q + 1)
      .split("#")[0]!
      .split("&")) {
      const eq = pair.indexOf("=");
      if (eq >= 0) values.push(pair.slice(eq + 1));
    }
  for (const v of values) {
    registerSecret(v);
    try {
      registerSecret(decodeURIComponent(v));
    } catch {
      // not valid percent-encoding: the raw form is registered
    }
  }
}
