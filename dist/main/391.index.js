export const id = 391;
export const ids = [391];
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

/***/ 49391:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   setUpPodNetwork: () => (/* binding */ setUpPodNetwork)
/* harmony export */ });
/* unused harmony export waitPodCidrs */
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(33838);
/* harmony import */ var _builders_cni_conflist_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(79827);
/* harmony import */ var _builders_node_cidrs_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(56096);
/* harmony import */ var _builders_node_network_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(93573);
/* harmony import */ var _cidr_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(88197);
/* harmony import */ var _kube_watch_until_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(46939);






/**
 * Waits until each of `nodes` has a `spec.podCIDR` (the controller-manager's range allocator sets it
 * once the Node registers; immutable after). Returns name → podCIDR. Throws at the deadline naming the
 * nodes without one, or at once with the message of a `CIDRNotAvailable` event (the pod subnet is full).
 */
async function waitPodCidrs(kc, names, deadline) {
    const found = new Map();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("deadline")), Math.max(deadline - Date.now(), 0));
    try {
        const full = (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_1__/* .watchUntil */ .m)(kc, {
            path: "/api/v1/events",
            query: { fieldSelector: "reason=CIDRNotAvailable" },
            signal: ac.signal,
            done: (e) => names.includes(e.involvedObject?.name ?? ""),
        }).then((e) => {
            throw new Error(`node ${e.involvedObject.name} got no podCIDR: ${e.message ?? "CIDRNotAvailable"}. Use a larger pod-subnet or fewer workers.`);
        });
        // Settled either way once the wait ends (finally aborts it): never an unhandled rejection.
        full.catch(() => undefined);
        const all = (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_1__/* .watchUntil */ .m)(kc, {
            path: "/api/v1/nodes",
            signal: ac.signal,
            observe: (n) => {
                const name = n.metadata?.name ?? "";
                if (names.includes(name) && n.spec?.podCIDR)
                    found.set(name, n.spec.podCIDR);
            },
            done: () => names.every((n) => found.has(n)),
        });
        await Promise.race([all, full]);
        return found;
    }
    catch (err) {
        if (!ac.signal.aborted || ac.signal.reason?.message !== "deadline")
            throw err;
        const missing = names.filter((n) => !found.has(n));
        throw new Error(`no podCIDR for ${missing.join(", ")} before the wait budget ran out: the controller-manager did not allocate one ` +
            "(see nodes.txt and events.txt in the diagnostics).", { cause: err });
    }
    finally {
        clearTimeout(timer);
        ac.abort();
    }
}
/** The Node's InternalIP as it registered it, for the cross-check against `container inspect`. */
async function internalIps(kc, names, signal) {
    const out = new Map();
    await (0,_kube_watch_until_js__WEBPACK_IMPORTED_MODULE_1__/* .watchUntil */ .m)(kc, {
        path: "/api/v1/nodes",
        signal,
        observe: (n) => {
            const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
            if (ip && names.includes(n.metadata?.name ?? ""))
                out.set(n.metadata.name, ip);
        },
        done: () => names.every((n) => out.has(n)),
    });
    return out;
}
/**
 * The pod network of a cluster with workers, kindnet's recipe with the node image's plugins
 * (builders/node-network.ts): on every node a route to each other node's podCIDR via that node's VM
 * address and the KINA-MASQUERADE chain; on each worker the ptp conflist on its own podCIDR, then a
 * kubelet restart so it picks it up (the control plane's was written before kubeadm init, on the pod
 * subnet's first node CIDR, which this checks it got). Routes and NAT go in before the conflist, so no
 * pod starts without them. Addresses come from `container inspect` (ours), podCIDRs from the Nodes; a
 * Node whose InternalIP is not its VM's address is refused. Returns the nodes as the network sees them.
 */
async function setUpPodNetwork(cli, kc, controlPlane, workers, o) {
    const vms = [controlPlane, ...workers];
    const names = vms.map((v) => v.name);
    const cidrs = await waitPodCidrs(kc, names, o.deadline);
    const signal = AbortSignal.timeout(Math.max(o.deadline - Date.now(), 1000));
    const registered = await internalIps(kc, names, signal);
    const nodes = vms.map((v) => {
        const text = cidrs.get(v.name);
        const podCidr = (0,_cidr_js__WEBPACK_IMPORTED_MODULE_2__/* .parseCidr */ .GN)(text);
        if (!podCidr)
            throw new Error(`node ${v.name} has podCIDR '${text.slice(0, 40)}', which is not an IPv4 CIDR`);
        const ip = registered.get(v.name);
        if (ip !== v.ip)
            throw new Error(`node ${v.name} registered the address ${ip?.slice(0, 40)}, but its VM has ${v.ip} (container inspect): ` +
                "something rewrote the Node, so its routes are not set up.");
        return { name: v.name, ip: v.ip, podCidr };
    });
    const expected = (0,_builders_node_cidrs_js__WEBPACK_IMPORTED_MODULE_3__/* .nodeCidr */ .lt)(o.podSubnet, 0);
    if (nodes[0].podCidr.text !== expected.text)
        throw new Error(`the control plane got podCIDR ${nodes[0].podCidr.text}, not ${expected.text}, which its conflist was written for ` +
            "before kubeadm init; its pods would take addresses of another node.");
    for (const n of nodes)
        _actions_core__WEBPACK_IMPORTED_MODULE_0__.info(`${n.name}: ${n.ip}, podCIDR ${n.podCidr.text}`);
    const masquerade = (0,_builders_node_network_js__WEBPACK_IMPORTED_MODULE_4__/* .buildPodMasquerade */ .Wu)(o.podSubnet);
    const settled = await Promise.allSettled(nodes.map(async (n, i) => {
        const routes = (0,_builders_node_network_js__WEBPACK_IMPORTED_MODULE_4__/* .buildNodeRoutes */ .X$)(n.name, nodes, o.podSubnet).map((r) => (0,_builders_node_network_js__WEBPACK_IMPORTED_MODULE_4__/* .routeCommand */ .XA)(r).join(" "));
        const steps = [...routes, `iptables-restore --noflush <<'KINA_EOF'\n${masquerade}KINA_EOF`];
        await cli.script(n.name, steps, { op: "exec", what: "pod network", echo: true });
        if (i === 0)
            return;
        await cli.writeFile(n.name, _builders_cni_conflist_js__WEBPACK_IMPORTED_MODULE_5__/* .CNI_CONFLIST_PATH */ .iy, (0,_builders_node_network_js__WEBPACK_IMPORTED_MODULE_4__/* .renderNodeConflist */ .Rd)(n.podCidr), {
            echo: true,
            then: "systemctl restart kubelet",
        });
    }));
    const failed = settled.find((s) => s.status === "rejected");
    if (failed)
        throw failed.reason;
    return nodes;
}


/***/ })

};
