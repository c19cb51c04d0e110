export const id = 903;
export const ids = [903];
export const modules = {

/***/ 46939:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   m: () => (/* binding */ watchUntil)
/* harmony export */ });
/* harmony import */ var _watch_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(87002);

/**
 * Resolves with the first object for which `done` is truthy. The server sends the current objects as
 * ADDED first, so an object already in the wanted state resolves at once. The watch is reopened when it
 * ends (watch.ts); the caller's signal (the readiness budget) bounds it all and rejects at once.
 */
function watchUntil(kc, o) {
    const found = new AbortController();
    return new Promise((resolve, reject) => {
        const onAbort = () => {
            found.abort();
            reject(o.signal.reason ?? new Error("aborted"));
        };
        if (o.signal.aborted)
            return onAbort();
        o.signal.addEventListener("abort", onAbort, { once: true });
        void (0,_watch_js__WEBPACK_IMPORTED_MODULE_0__/* .reopeningWatch */ .V)(kc, {
            path: o.path,
            query: { ...o.query, timeoutSeconds: 300, allowWatchBookmarks: false },
            signal: found.signal,
            onEvent: (type, obj) => {
                if (type === "DELETED" || found.signal.aborted)
                    return;
                o.observe?.(obj);
                if (o.done(obj)) {
                    o.signal.removeEventListener("abort", onAbort);
                    found.abort();
                    resolve(obj);
                }
            },
        });
    });
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


/***/ }),

/***/ 54903:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   waitReady: () => (/* binding */ waitReady)
/* harmony export */ });
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(33838);
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(14358);
/* harmony import */ var _backoff_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(82431);
/* harmony import */ var _kube_client_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(31934);
/* harmony import */ var _kube_watch_until_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(46939);





function condition(obj, type) {
    return obj.status?.conditions?.find((c) => c.type === type);
}
function clusterStages(kc, o) {
    const one = o.nodeNames.length === 1;
    const ready = new Map(o.nodeNames.map((n) => [n, "no Node object seen"]));
    const notReady = () => [...ready].filter(([, s]) => s !== "Ready=True").map(([n, s]) => (one ? s : `${n}: ${s}`));
    const node = {
        name: one ? "node Ready" : "nodes Ready",
        last: notReady().join(", "),
        run: (s) => (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_3__/* .watchUntil */ .m)(kc, {
            path: "/api/v1/nodes",
            // One node: only its object; several: every Node, each counted once it is Ready.
            query: one ? { fieldSelector: `metadata.name=${o.nodeNames[0]}` } : {},
            signal: s,
            observe: (n) => {
                const name = n.metadata?.name ?? "";
                if (!ready.has(name))
                    return;
                const c = condition(n, "Ready");
                ready.set(name, c?.status === "True"
                    ? "Ready=True"
                    : c
                        ? `Ready=${c.status} (${c.reason ?? ""}: ${c.message ?? ""})`
                        : "no Ready condition");
                node.last = notReady().join(", ");
            },
            done: () => notReady().length === 0,
        }),
    };
    const coredns = {
        name: "CoreDNS available",
        last: "no coredns Deployment seen",
        run: (s) => (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_3__/* .watchUntil */ .m)(kc, {
            path: "/apis/apps/v1/namespaces/kube-system/deployments",
            query: { fieldSelector: "metadata.name=coredns" },
            signal: s,
            observe: (d) => {
                coredns.last = `${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? "?"} replicas available`;
            },
            done: (d) => (d.status?.availableReplicas ?? 0) >= 1,
        }),
    };
    const sa = {
        name: "default ServiceAccount",
        last: "not created yet",
        run: (s) => (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_3__/* .watchUntil */ .m)(kc, {
            path: "/api/v1/namespaces/default/serviceaccounts",
            query: { fieldSelector: "metadata.name=default" },
            signal: s,
            done: () => true,
        }),
    };
    const requesters = new Map(o.nodeNames.map((n) => [`system:node:${n}`, n]));
    const issued = new Set();
    const certLast = new Map();
    const missing = () => o.nodeNames.filter((n) => !issued.has(n));
    const cert = {
        name: one ? "kubelet serving certificate issued" : "kubelet serving certificates issued",
        last: "no kubelet-serving CSR from the node seen",
        run: (s) => (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_3__/* .watchUntil */ .m)(kc, {
            path: "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            signal: s,
            observe: (c) => {
                const n = requesters.get(c.spec.username ?? "");
                if (c.spec.signerName !== "kubernetes.io/kubelet-serving" || !n)
                    return;
                const conds = (c.status?.conditions ?? []).map((x) => x.type).join(",") || "Pending";
                if (c.status?.certificate)
                    issued.add(n);
                certLast.set(n, `CSR ${c.metadata?.name}: ${conds}${c.status?.certificate ? ", certificate issued" : ""}`);
                cert.last = missing()
                    .map((m) => {
                    const l = certLast.get(m) ?? "no kubelet-serving CSR from the node seen";
                    return one ? l : `${m}: ${l}`;
                })
                    .join("; ");
            },
            done: () => missing().length === 0,
        }),
    };
    return [node, coredns, sa, ...(o.servingCertificate ? [cert] : [])];
}
/**
 * Waits until the cluster is usable, in stages sharing one budget: the API answers /readyz, then —
 * observed in parallel — every node is Ready, CoreDNS is available, the default ServiceAccount exists and
 * each node's kubelet serving certificate is issued. A timeout names what was not ready (with workers,
 * the nodes that were not). Returns each stage's time in seconds.
 */
async function waitReady(kc, o) {
    const controller = new AbortController();
    const remaining = o.deadline - Date.now();
    const timer = setTimeout(() => controller.abort(new Error("budget")), Math.max(remaining, 0));
    const t0 = performance.now();
    const times = {};
    const done = (name) => {
        times[name] = Math.round(performance.now() - t0) / 1000;
        _actions_core__WEBPACK_IMPORTED_MODULE_0__.info(`${name} after ${times[name]}s`);
    };
    const api = {
        name: "API server ready (/readyz)",
        last: "no answer yet",
        run: async (signal) => {
            const health = new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_1__.Health(kc);
            const backoff = new _backoff_js__WEBPACK_IMPORTED_MODULE_4__/* .Backoff */ .n({ minMs: 50, maxMs: 500 });
            for (;;) {
                try {
                    const request = AbortSignal.any([signal, AbortSignal.timeout(_kube_client_js__WEBPACK_IMPORTED_MODULE_2__/* .REQUEST_TIMEOUT_MS */ .j2)]);
                    if (await health.readyz({ signal: request }))
                        return;
                    api.last = "/readyz answered not ready";
                }
                catch (err) {
                    if (signal.aborted)
                        throw err;
                    const cause = err.cause;
                    api.last = cause?.code ?? cause?.message ?? String(err);
                }
                await (0,_backoff_js__WEBPACK_IMPORTED_MODULE_4__/* .sleep */ .y)(backoff.next(), signal);
            }
        },
    };
    const pending = new Set();
    const track = async (s) => {
        pending.add(s);
        await s.run(controller.signal);
        pending.delete(s);
        done(s.name);
    };
    try {
        await track(api);
        await Promise.all(clusterStages(kc, o).map(track));
        return times;
    }
    catch (err) {
        if (!controller.signal.aborted)
            throw err;
        const budget = Math.round(remaining / 1000);
        const lines = [...pending].map((s) => `${s.name} (last observed: ${s.last})`);
        throw new Error(`not ready within the wait budget (${budget}s): ${lines.join("; ")}`, { cause: err });
    }
    finally {
        clearTimeout(timer);
        controller.abort();
    }
}


/***/ })

};
