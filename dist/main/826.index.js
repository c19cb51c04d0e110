export const id = 826;
export const ids = [826];
export const modules = {

/***/ 96826:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  startCsrApprover: () => (/* binding */ startCsrApprover)
});

// EXTERNAL MODULE: ./node_modules/@kubernetes/client-node/dist/index.js + 876 modules
var dist = __webpack_require__(14358);
// EXTERNAL MODULE: ./src/kube/client.ts
var client = __webpack_require__(31934);
// EXTERNAL MODULE: ./node_modules/reflect-metadata/Reflect.js
var Reflect = __webpack_require__(80477);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
// EXTERNAL MODULE: ./node_modules/@peculiar/x509/build/x509.cjs.js
var x509_cjs = __webpack_require__(8927);
;// CONCATENATED MODULE: ./src/kube/csr-rules.ts
// Decides whether a CertificateSigningRequest is the kubelet of our node asking for its serving
// certificate. The kubelet-serving signer checks only the shape of a request, never which names it
// asks for, so these rules are the only thing standing between a workload that can create CSRs and a
// cluster-CA-signed certificate for kubernetes.default.svc.



// node:crypto's webcrypto is the global Web Crypto object; the cast bridges Node's and DOM's typings.
x509_cjs/* cryptoProvider */.Ve.set(external_node_crypto_.webcrypto);
const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";
const NODES_GROUP = "system:nodes";
const EXTENSION_REQUEST_OID = "1.2.840.113549.1.9.14";
const SAN_OID = "2.5.29.17";
const ALLOWED_USAGE_SETS = [
    ["digital signature", "server auth"],
    ["digital signature", "key encipherment", "server auth"],
];
const specChecks = [
    {
        name: "signer",
        run: ({ csr }) => csr.spec?.signerName === KUBELET_SERVING_SIGNER
            ? undefined
            : `its signer is ${q(csr.spec?.signerName)}, not ${KUBELET_SERVING_SIGNER}`,
    },
    {
        name: "pending",
        run: ({ csr }) => {
            const decided = (csr.status?.conditions ?? []).find((c) => ["Approved", "Denied", "Failed"].includes(c.type));
            if (decided)
                return `it is already ${decided.type}`;
            if (csr.status?.certificate)
                return "it already has a certificate";
            return undefined;
        },
    },
    {
        name: "requester",
        run: ({ csr, node }) => {
            const want = `system:node:${node.nodeName}`;
            if (csr.spec?.username !== want)
                return `it was requested by ${q(csr.spec?.username)}, not ${want}`;
            if (!(csr.spec.groups ?? []).includes(NODES_GROUP))
                return `its requester is not in group ${NODES_GROUP}`;
            return undefined;
        },
    },
    {
        name: "usages",
        run: ({ csr }) => {
            const usages = csr.spec?.usages ?? [];
            const unique = new Set(usages);
            if (unique.size !== usages.length)
                return `its usages ${list(usages)} contain duplicates`;
            const ok = ALLOWED_USAGE_SETS.some((set) => set.length === unique.size && set.every((u) => unique.has(u)));
            if (!ok) {
                return `its usages ${list(usages)} are neither {digital signature, server auth} nor {digital signature, key encipherment, server auth}`;
            }
            return undefined;
        },
    },
];
const requestChecks = [
    {
        name: "subject",
        run: ({ csr, request }) => {
            const orgs = request.subject.filter((a) => a.type === "O").map((a) => a.value);
            const cns = request.subject.filter((a) => a.type === "CN").map((a) => a.value);
            const others = request.subject.filter((a) => a.type !== "O" && a.type !== "CN");
            if (orgs.length !== 1 || orgs[0] !== NODES_GROUP) {
                return `its subject organization is ${list(orgs)}, not [${NODES_GROUP}]`;
            }
            // Go keeps the last CN of a subject; demanding exactly one leaves no room for a different reading.
            if (cns.length !== 1 || cns[0] !== csr.spec.username) {
                return `its subject CN ${list(cns)} is not the requester ${q(csr.spec.username)}`;
            }
            if (others.length > 0)
                return `its subject has attributes other than O and CN (${list(others.map((a) => a.type))})`;
            return undefined;
        },
    },
    {
        name: "san-present",
        run: ({ request }) => {
            // The signer (Go's x509) lets the last SAN extension win; with more than one, which names get
            // signed depends on the parser, so refuse the ambiguity.
            if (request.sans.length > 1)
                return "it carries more than one subjectAltName extension";
            if ((request.sans[0] ?? []).length === 0)
                return "it names no DNS or IP subject alternative name";
            return undefined;
        },
    },
    {
        name: "san-types",
        run: ({ request }) => {
            const other = sanNames(request).find((n) => n.type !== "dns" && n.type !== "ip");
            return other
                ? `it asks for ${sanTypeLabel(other.type)} SAN (only DNS and IP SANs are allowed)`
                : undefined;
        },
    },
    {
        name: "san-dns",
        run: ({ request, node }) => {
            const allowed = new Set([node.nodeName, ...node.hostnames]);
            const bad = sanNames(request).find((n) => n.type === "dns" && !allowed.has(n.value));
            return bad ? `its DNS SAN ${q(bad.value)} is not a name of node ${node.nodeName}` : undefined;
        },
    },
    {
        name: "san-ip",
        run: ({ request, node }) => {
            // No loopback or other implicit allowance: the kubelet only lists the node's own addresses.
            const allowed = new Set(node.ips.map(canonicalIp).filter((ip) => ip !== undefined));
            const bad = sanNames(request).find((n) => n.type === "ip" && !allowed.has(n.value));
            return bad ? `its IP SAN ${q(bad.value)} is not an address of node ${node.nodeName}` : undefined;
        },
    },
];
/** Runs every rule in order; the first that fails gives the reason the CSR is not approved. */
async function evaluateCsr(csr, node) {
    const spec = { csr, node };
    for (const check of specChecks) {
        const reason = check.run(spec);
        if (reason !== undefined)
            return { approve: false, reason };
    }
    const parsed = await parseRequest(csr.spec.request);
    if (typeof parsed === "string")
        return { approve: false, reason: parsed };
    const full = { ...spec, request: parsed };
    for (const check of requestChecks) {
        const reason = check.run(full);
        if (reason !== undefined)
            return { approve: false, reason };
    }
    const names = sanNames(parsed);
    const dns = names.filter((n) => n.type === "dns").map((n) => n.value);
    const ips = names.filter((n) => n.type === "ip").map((n) => n.value);
    return {
        approve: true,
        reason: `kubelet serving certificate for ${csr.spec.username} (DNS ${list(dns)}, IP ${list(ips)})`,
    };
}
/** Decodes spec.request (base64 of PEM) into the parts the rules look at, or says why it cannot. */
async function parseRequest(request) {
    const b64 = (request ?? "").replace(/\s+/g, "");
    if (b64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
        return "its spec.request is not base64";
    const pem = Buffer.from(b64, "base64").toString("latin1");
    const blocks = pem.match(/-----BEGIN [^-\r\n]*-----/g) ?? [];
    if (blocks.length !== 1) {
        return `its spec.request holds ${blocks.length} PEM blocks, not exactly one CERTIFICATE REQUEST`;
    }
    const m = /^\s*-----BEGIN CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\s]+)-----END CERTIFICATE REQUEST-----\s*$/.exec(pem);
    if (!m?.[1])
        return "its spec.request is not a single PEM CERTIFICATE REQUEST block";
    let csr;
    let parsed;
    try {
        csr = new x509_cjs/* Pkcs10CertificateRequest */.lt(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
        parsed = { subject: subjectAttributes(csr), sans: subjectAltNames(csr) };
    }
    catch {
        return "its certificate request cannot be parsed";
    }
    const verified = await csr.verify().catch(() => false);
    return verified ? parsed : "its certificate request's signature does not verify";
}
function subjectAttributes(csr) {
    const out = [];
    for (const rdn of csr.subjectName.toJSON()) {
        for (const [type, values] of Object.entries(rdn)) {
            for (const value of values)
                out.push({ type, value });
        }
    }
    return out;
}
// Reads every value of every extensionRequest attribute, not just the first one the library exposes
// as csr.extensions: Go's parser (the signer's) reads them all.
function subjectAltNames(csr) {
    const sans = [];
    for (const attr of csr.attributes) {
        if (attr.type !== EXTENSION_REQUEST_OID)
            continue;
        for (const value of attr.values) {
            const single = new x509_cjs/* ExtensionsAttribute */.Hl(new x509_cjs/* Attribute */.nW(EXTENSION_REQUEST_OID, [value]).rawData);
            for (const ext of single.items) {
                if (ext.type !== SAN_OID)
                    continue;
                const san = new x509_cjs/* SubjectAlternativeNameExtension */.Wx(ext.rawData);
                sans.push(san.names.items.map((n) => ({ type: n.type, value: n.value })));
            }
        }
    }
    return sans;
}
function sanNames(request) {
    return request.sans.flat();
}
/** The same text form the library gives a SAN's IP (dotted IPv4, compressed IPv6), or undefined. */
function canonicalIp(ip) {
    try {
        // container inspect reports addresses with a prefix length.
        return new x509_cjs/* GeneralName */.QH("ip", ip.replace(/\/\d+$/, "")).value;
    }
    catch {
        return undefined;
    }
}
function sanTypeLabel(type) {
    const labels = {
        email: "an email",
        url: "a URI",
        dn: "a directory-name",
        id: "a registered-ID",
        guid: "a GUID",
        upn: "a UPN",
    };
    return labels[type] ?? `a ${type}`;
}
// Requests come from whoever can create a CSR; quote their strings so a newline cannot start a
// workflow command in the Actions log, and keep them short.
function q(value) {
    if (value === undefined)
        return "(none)";
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
function list(values) {
    return `[${values.map(q).join(", ")}]`;
}

// EXTERNAL MODULE: ./src/kube/watch.ts
var watch = __webpack_require__(87002);
;// CONCATENATED MODULE: ./src/kube/csr-approver.ts
// Approves the kubelet's serving-certificate CSR (serverTLSBootstrap) while the cluster comes up, and
// nothing else: every request goes through the rules in csr-rules.ts.




const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
const APPROVE_ATTEMPTS = 5;
/** About 15 s of failing, with the watch's backoff (100 ms doubling to 5 s). */
const WARN_AFTER_FAILURES = 8;
/**
 * Watches kubelet-serving CSRs and approves those of `nodes` that pass the rules (csr-rules.ts). With
 * several nodes, each CSR is judged against the one node whose name it was requested as, with that
 * node's own names and addresses only, never the union of all nodes' (a worker asking for the control
 * plane's address stays pending). A CSR of a node not in `nodes` stays pending (denied with `deny`).
 * `firstApproval` follows the first node (the control plane).
 */
function startCsrApprover(kc, nodeOrNodes, log, opts = {}) {
    const nodes = Array.isArray(nodeOrNodes) ? nodeOrNodes : [nodeOrNodes];
    if (!nodes.length)
        throw new Error("startCsrApprover needs at least one node");
    const api = kc.makeApiClient(dist.CertificatesV1Api);
    const decisions = [];
    const requester = `system:node:${nodes[0].nodeName}`;
    // A requester that is none of ours is judged against the first node, whose rules reject it by name.
    const nodeOf = (csr) => nodes.find((n) => csr.spec?.username === `system:node:${n.nodeName}`) ?? nodes[0];
    // name → resourceVersion last handled, so each version of a CSR is looked at once, even when a
    // re-established watch replays every CSR as ADDED.
    const handled = new Map();
    let stopped = false;
    let queue = Promise.resolve();
    const watching = new AbortController();
    let resolveFirst;
    let rejectFirst;
    const firstApproval = new Promise((resolve, reject) => {
        resolveFirst = resolve;
        rejectFirst = reject;
    });
    // Nobody has to await firstApproval; its rejection on stop() must not become an unhandled one.
    firstApproval.catch(() => undefined);
    const decide = (name, approved, reason) => {
        decisions.push({ name, approved, reason });
    };
    const onEvent = (type, obj) => {
        if (stopped)
            return;
        const name = obj?.metadata?.name;
        if (!name)
            return;
        if (type === "DELETED") {
            handled.delete(name);
            return;
        }
        if (type !== "ADDED" && type !== "MODIFIED")
            return;
        const rv = obj.metadata?.resourceVersion ?? "";
        if (handled.get(name) === rv)
            return;
        handled.set(name, rv);
        // One CSR at a time: approvals are few, and ordering keeps the log readable.
        queue = queue
            .then(() => handle(name, obj))
            .catch((err) => {
            log.warning(`could not handle CSR ${name}: ${message(err)}`);
        });
    };
    // Other signers' requests (the kubelet's client certificate among them) belong to other approvers.
    const ours = (csr) => csr.spec?.signerName === KUBELET_SERVING_SIGNER;
    async function handle(name, first) {
        let csr = first;
        for (let attempt = 1; !stopped && ours(csr); attempt++) {
            if (isDecided(csr)) {
                if (isApproved(csr) && csr.spec.username === requester)
                    resolveFirst(name);
                return;
            }
            const verdict = await evaluateCsr(csr, nodeOf(csr));
            if (stopped)
                return;
            if (!verdict.approve && !opts.deny) {
                decide(name, false, verdict.reason);
                log.info(`left CSR ${name} pending: ${verdict.reason}`);
                return;
            }
            const condition = verdict.approve
                ? {
                    type: "Approved",
                    status: "True",
                    reason: "KinaApprove",
                    message: `kina approved the ${verdict.reason}`,
                }
                : {
                    type: "Denied",
                    status: "True",
                    reason: "KinaDeny",
                    message: `kina denied it: ${verdict.reason}`,
                };
            condition.lastUpdateTime = new Date();
            const body = {
                ...csr,
                status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] },
            };
            try {
                await api.replaceCertificateSigningRequestApproval({ name, body }, await (0,client/* bounded */.Mm)());
            }
            catch (err) {
                if (statusCode(err) !== 409 || attempt >= APPROVE_ATTEMPTS || stopped) {
                    log.warning(`could not ${verdict.approve ? "approve" : "deny"} CSR ${name}: ${message(err)}`);
                    return;
                }
                // Someone else wrote the CSR since we read it: judge the current version again.
                csr = await api.readCertificateSigningRequest({ name }, await (0,client/* bounded */.Mm)());
                continue;
            }
            decide(name, verdict.approve, verdict.reason);
            if (verdict.approve) {
                log.info(`approved CSR ${name}: ${verdict.reason}`);
                resolveFirst(name);
            }
            else {
                log.info(`denied CSR ${name}: ${verdict.reason}`);
            }
            return;
        }
    }
    // A brief outage (the API server restarting) is routine; only a long one is worth a warning.
    const watched = (0,watch/* reopeningWatch */.V)(kc, {
        path: CSR_PATH,
        query: { fieldSelector: `spec.signerName=${KUBELET_SERVING_SIGNER}` },
        signal: watching.signal,
        onEvent,
        onFailure: (err, failures) => {
            const what = `the CSR watch ended${err ? `: ${message(err)}` : " early"}`;
            if (failures === WARN_AFTER_FAILURES)
                log.warning(`${what}; still retrying`);
            else
                log.info(`${what}; retrying`);
        },
    });
    return {
        firstApproval,
        decisions,
        async stop() {
            if (stopped)
                return;
            stopped = true;
            watching.abort();
            await watched;
            await queue;
            rejectFirst(new Error("the CSR approver stopped before it approved a kubelet serving certificate"));
        },
    };
}
function isDecided(csr) {
    const conditions = csr.status?.conditions ?? [];
    return (Boolean(csr.status?.certificate) ||
        conditions.some((c) => ["Approved", "Denied", "Failed"].includes(c.type)));
}
function isApproved(csr) {
    const conditions = csr.status?.conditions ?? [];
    return conditions.some((c) => c.type === "Approved" && c.status === "True");
}
function statusCode(err) {
    const code = err?.code;
    return typeof code === "number" ? code : undefined;
}
// One short line: client-node's ApiException message spans lines and carries the whole response.
function message(err) {
    const code = statusCode(err);
    const body = err?.body;
    let text;
    if (code !== undefined)
        text = `HTTP ${code}${typeof body?.message === "string" ? `: ${body.message}` : ""}`;
    else if (err instanceof Error) {
        // undici says only "fetch failed"; the cause says why (ECONNREFUSED, a TLS error…).
        const cause = err.cause instanceof Error ? err.cause.message : undefined;
        text = cause ? `${err.message} (${cause})` : err.message;
    }
    else
        text = String(err);
    text = text.replace(/\s+/g, " ").trim();
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}


/***/ }),

/***/ 87002:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   V: () => (/* binding */ reopeningWatch)
/* harmony export */ });
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(14358);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(82431);
// The one watch of the Kubernetes side: a watch that is reopened whenever it ends, with backoff after
// failures, until its signal aborts. client-node's Watch bounds each connection itself (30 s to
// connect, 30 s without data).


/** A watch that ends sooner than this without error still counts as a failure for backoff. */
const SHORT_WATCH_MS = 1_000;
/**
 * Watches `path` until `signal` aborts; resolves then. No resourceVersion: a reopened watch replays the
 * current objects as ADDED, so nothing that changed while it was down is missed, and there is no
 * expired-version case; callers skip what they have seen.
 */
async function reopeningWatch(kc, o) {
    const watch = new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.Watch(kc);
    const backoff = new _backoff_js__WEBPACK_IMPORTED_MODULE_1__/* .Backoff */ .n({ minMs: 100, maxMs: 5_000 });
    while (!o.signal.aborted) {
        const started = Date.now();
        const ended = await new Promise((resolve) => {
            let controller;
            // Leave at once: a watch still connecting is aborted as soon as client-node hands its controller.
            const onAbort = () => {
                controller?.abort();
                resolve(null);
            };
            o.signal.addEventListener("abort", onAbort, { once: true });
            const done = (err) => {
                o.signal.removeEventListener("abort", onAbort);
                resolve(err ?? null);
            };
            watch
                .watch(o.path, { ...o.query }, (type, obj) => {
                if (o.signal.aborted)
                    return;
                if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
                    backoff.reset();
                    o.onEvent(type, obj);
                }
            }, done)
                .then((ac) => {
                controller = ac;
                if (o.signal.aborted)
                    ac.abort();
            }, done);
        });
        if (o.signal.aborted)
            return;
        // client-node ends a watch idle for 30 s with a TimeoutError: routine, reopen at once.
        const routine = ended === null || (ended instanceof Error && ended.name === "TimeoutError");
        if (routine && Date.now() - started >= SHORT_WATCH_MS) {
            backoff.reset();
            continue;
        }
        const delay = backoff.next();
        o.onFailure?.(ended, backoff.count, delay);
        await (0,_backoff_js__WEBPACK_IMPORTED_MODULE_1__/* .sleep */ .y)(delay, o.signal).catch(() => undefined);
    }
}


/***/ })

};
