export const id = 19;
export const ids = [19];
export const modules = {

/***/ 99019:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  waitReady: () => (/* binding */ waitReady)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 7 modules
var core = __webpack_require__(33838);
// EXTERNAL MODULE: ./node_modules/@kubernetes/client-node/dist/index.js + 876 modules
var dist = __webpack_require__(14358);
;// CONCATENATED MODULE: ./src/kube/watch-until.ts

/**
 * Resolves with the first object for which `done` is truthy. The server sends the current objects as
 * ADDED first, so an object already in the wanted state resolves at once. A watch the server closes is
 * reopened; the caller's signal (the readiness budget) bounds it all.
 */
function watchUntil(kc, o) {
    const watch = new dist.Watch(kc);
    return new Promise((resolve, reject) => {
        let current;
        let settled = false;
        let retryTimer;
        let failures = 0;
        const finish = (fn) => {
            if (settled)
                return;
            settled = true;
            clearTimeout(retryTimer);
            o.signal.removeEventListener("abort", onAbort);
            current?.abort();
            fn();
        };
        const onAbort = () => finish(() => reject(o.signal.reason ?? new Error("aborted")));
        o.signal.addEventListener("abort", onAbort, { once: true });
        const start = () => {
            if (settled)
                return;
            watch
                .watch(o.path, { ...o.query, timeoutSeconds: 300, allowWatchBookmarks: false }, (type, obj) => {
                if (type === "ADDED" || type === "MODIFIED") {
                    failures = 0;
                    o.observe?.(obj);
                    if (o.done(obj))
                        finish(() => resolve(obj));
                }
            }, (err) => {
                if (settled)
                    return;
                // Back off only after errors; a server-side close after a timeout reopens at once.
                failures = err ? failures + 1 : 0;
                retryTimer = setTimeout(start, err ? Math.min(100 * 2 ** failures, 2000) : 0);
            })
                .then((ac) => {
                current = ac;
                if (settled)
                    ac.abort();
            }, () => {
                if (settled)
                    return;
                failures++;
                retryTimer = setTimeout(start, Math.min(100 * 2 ** failures, 2000));
            });
        };
        if (o.signal.aborted)
            onAbort();
        else
            start();
    });
}

;// CONCATENATED MODULE: ./src/steps/readiness.ts



function condition(obj, type) {
    return obj.status?.conditions?.find((c) => c.type === type);
}
function clusterStages(kc, o) {
    const node = {
        name: "node Ready",
        last: "no Node object seen",
        run: (s) => watchUntil(kc, {
            path: "/api/v1/nodes",
            query: { fieldSelector: `metadata.name=${o.nodeName}` },
            signal: s,
            observe: (n) => {
                const c = condition(n, "Ready");
                node.last = c ? `Ready=${c.status} (${c.reason ?? ""}: ${c.message ?? ""})` : "no Ready condition";
            },
            done: (n) => condition(n, "Ready")?.status === "True",
        }),
    };
    const coredns = {
        name: "CoreDNS available",
        last: "no coredns Deployment seen",
        run: (s) => watchUntil(kc, {
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
        run: (s) => watchUntil(kc, {
            path: "/api/v1/namespaces/default/serviceaccounts",
            query: { fieldSelector: "metadata.name=default" },
            signal: s,
            done: () => true,
        }),
    };
    const cert = {
        name: "kubelet serving certificate issued",
        last: "no kubelet-serving CSR from the node seen",
        run: (s) => watchUntil(kc, {
            path: "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            signal: s,
            observe: (c) => {
                if (c.spec.signerName !== "kubernetes.io/kubelet-serving" ||
                    c.spec.username !== `system:node:${o.nodeName}`)
                    return;
                const conds = (c.status?.conditions ?? []).map((x) => x.type).join(",") || "Pending";
                cert.last = `CSR ${c.metadata?.name}: ${conds}${c.status?.certificate ? ", certificate issued" : ""}`;
            },
            done: (c) => c.spec.signerName === "kubernetes.io/kubelet-serving" &&
                c.spec.username === `system:node:${o.nodeName}` &&
                !!c.status?.certificate,
        }),
    };
    return [node, coredns, sa, ...(o.servingCertificate ? [cert] : [])];
}
/**
 * Waits until the cluster is usable, in stages sharing one budget: the API answers /readyz, then —
 * observed in parallel — the node is Ready, CoreDNS is available, the default ServiceAccount exists and
 * the kubelet's serving certificate is issued. Returns each stage's time in seconds.
 */
async function waitReady(kc, o) {
    const controller = new AbortController();
    const remaining = o.deadline - Date.now();
    const timer = setTimeout(() => controller.abort(new Error("budget")), Math.max(remaining, 0));
    const t0 = performance.now();
    const times = {};
    const done = (name) => {
        times[name] = Math.round(performance.now() - t0) / 1000;
        core.info(`${name} after ${times[name]}s`);
    };
    const api = {
        name: "API server ready (/readyz)",
        last: "no answer yet",
        run: async (signal) => {
            const health = new dist.Health(kc);
            let delay = 50;
            for (;;) {
                try {
                    if (await health.readyz({ signal }))
                        return;
                    api.last = "/readyz answered not ready";
                }
                catch (err) {
                    if (signal.aborted)
                        throw err;
                    const cause = err.cause;
                    api.last = cause?.code ?? cause?.message ?? String(err);
                }
                await new Promise((resolve, reject) => {
                    const t = setTimeout(resolve, delay);
                    signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
                });
                delay = Math.min(delay * 2, 500);
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
