export const id = 168;
export const ids = [168];
export const modules = {

/***/ 69168:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  joinWorkers: () => (/* binding */ joinWorkers)
});

// UNUSED EXPORTS: clusterCaPem

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 7 modules
var core = __webpack_require__(33838);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
;// CONCATENATED MODULE: ./src/builders/bootstrap-token.ts

// Bootstrap tokens as kubeadm and the API server's bootstrap authenticator define them
// (kubernetes/kubernetes, staging/src/k8s.io/cluster-bootstrap/token/api/types.go and
// https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/).
/** `<token-id>.<token-secret>`: 6 and 16 characters of [a-z0-9]. */
const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
/** The group kubeadm init binds to CSR creation, node client CSR auto-approval and the join ConfigMaps. */
const NODE_BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token";
const BOOTSTRAP_TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token";
/** Parses `<id>.<secret>`; undefined for anything else. */
function parseBootstrapToken(text) {
    const m = BOOTSTRAP_TOKEN_PATTERN.exec(text);
    return m ? { id: m[1], secret: m[2], value: text } : undefined;
}
/**
 * A new random token. `random(n)` returns an integer in [0, n); the default is node:crypto's
 * uniform, cryptographically strong randomInt.
 */
function generateBootstrapToken(random = external_node_crypto_.randomInt) {
    const pick = (length) => Array.from({ length }, () => ALPHABET[random(ALPHABET.length)] ?? "").join("");
    const token = parseBootstrapToken(`${pick(6)}.${pick(16)}`);
    if (!token)
        throw new Error("the random source returned a value outside [0, 36)");
    return token;
}
/**
 * The `bootstrap-token-<id>` Secret in kube-system that makes the API server accept the token, the
 * shape `kubeadm token create` writes: usable for authentication (TLS bootstrap as
 * `system:bootstrap:<id>` in NODE_BOOTSTRAP_GROUP) and for signing (the bootstrap signer adds its JWS
 * to the cluster-info ConfigMap, which `kubeadm join` discovery verifies). `data` is base64 as stored.
 */
function bootstrapTokenSecret(token, o) {
    const b64 = (s) => Buffer.from(s, "utf8").toString("base64");
    // RFC 3339 without fractions, as Go's time.RFC3339 parses it.
    const expiration = o.expiration.toISOString().replace(/\.\d{3}Z$/, "Z");
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `bootstrap-token-${token.id}`, namespace: "kube-system" },
        type: BOOTSTRAP_TOKEN_SECRET_TYPE,
        data: {
            "token-id": b64(token.id),
            "token-secret": b64(token.secret),
            expiration: b64(expiration),
            "usage-bootstrap-authentication": b64("true"),
            "usage-bootstrap-signing": b64("true"),
            "auth-extra-groups": b64(NODE_BOOTSTRAP_GROUP),
            description: b64(o.description),
        },
    };
}

// EXTERNAL MODULE: ./src/builders/kubeadm-config.ts
var kubeadm_config = __webpack_require__(46090);
// EXTERNAL MODULE: ./node_modules/yaml/dist/index.js
var dist = __webpack_require__(38815);
// EXTERNAL MODULE: ./src/cidr.ts
var cidr = __webpack_require__(88197);
;// CONCATENATED MODULE: ./src/builders/kubeadm-join.ts





/** Written with mode 0600 (it holds the token) and removed once the join has run. */
const KUBEADM_JOIN_CONFIG_PATH = "/etc/kubernetes/kubeadm-join.yaml";
const CA_CERT_HASH = /^sha256:[0-9a-f]{64}$/;
/**
 * The CA pin `kubeadm join` checks during discovery: `sha256:` and the hex SHA-256 of the CA
 * certificate's DER SubjectPublicKeyInfo (kubeadm's pubkeypin, cmd/kubeadm/app/util/pubkeypin;
 * https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-join/#token-based-discovery-with-ca-pinning).
 * `caPem` is the cluster CA certificate (PEM). Throws when it is not a certificate.
 */
function caCertHash(caPem) {
    const spki = new external_node_crypto_.X509Certificate(caPem).publicKey.export({ type: "spki", format: "der" });
    return `sha256:${(0,external_node_crypto_.createHash)("sha256").update(spki).digest("hex")}`;
}
/**
 * A kubeadm v1beta4 JoinConfiguration for a worker: token discovery against the control plane's VM
 * address with the CA pinned (never unsafeSkipCAVerification), the kubelet registering under the
 * node's name and VM address. Throws on a malformed token, hash or endpoint; messages never contain
 * the token.
 */
function buildJoinConfiguration(j) {
    if (!BOOTSTRAP_TOKEN_PATTERN.test(j.token))
        throw new Error("the bootstrap token is not of the form <6 chars>.<16 chars> of [a-z0-9]");
    if (j.caCertHashes.length === 0 || !j.caCertHashes.every((h) => CA_CERT_HASH.test(h)))
        throw new Error(`expected CA pins of the form sha256:<64 hex>, got ${JSON.stringify(j.caCertHashes)}`);
    const endpoint = /^([0-9.]+):(\d{1,5})$/.exec(j.apiServerEndpoint);
    if (!endpoint || (0,cidr/* parseIPv4 */.vm)(endpoint[1]) === undefined || Number(endpoint[2]) > 65535)
        throw new Error(`apiServerEndpoint ${j.apiServerEndpoint} is not <IPv4 address>:<port>`);
    if ((0,cidr/* parseIPv4 */.vm)(j.nodeIP) === undefined)
        throw new Error(`node IP ${j.nodeIP} is not an IPv4 address`);
    return {
        apiVersion: "kubeadm.k8s.io/v1beta4",
        kind: "JoinConfiguration",
        discovery: {
            bootstrapToken: {
                apiServerEndpoint: j.apiServerEndpoint,
                token: j.token,
                caCertHashes: [...j.caCertHashes],
            },
        },
        nodeRegistration: {
            name: j.nodeName,
            criSocket: kubeadm_config/* CRI_SOCKET */.jn,
            kubeletExtraArgs: [{ name: "node-ip", value: j.nodeIP }],
            ignorePreflightErrors: [...j.ignorePreflightErrors],
        },
    };
}
function renderJoinConfiguration(j) {
    return (0,dist/* stringify */.As)(buildJoinConfiguration(j));
}

// EXTERNAL MODULE: ./src/errors.ts
var errors = __webpack_require__(83916);
// EXTERNAL MODULE: ./node_modules/@kubernetes/client-node/dist/index.js + 876 modules
var client_node_dist = __webpack_require__(14358);
;// CONCATENATED MODULE: ./src/kube/bootstrap-token.ts


/**
 * How long a join token is valid. Workers join right after the control plane is up, in parallel, and
 * need the token only for discovery and TLS bootstrap, which take seconds each; 15 minutes leaves room
 * for a slow Mac and is far below kubeadm's 24 h default. The controller-manager's token cleaner
 * deletes the Secret once it expires.
 */
const JOIN_TOKEN_TTL_MS = 15 * 60_000;
const TIMEOUT_MS = 30_000;
/**
 * Makes `token` valid for `kubeadm join` by creating its `bootstrap-token-<id>` Secret in kube-system
 * through the API: the token never appears on a command line or in a file on the host. Returns the
 * expiration. Throws the API's error (HTTP 409 when a token with this id exists), or
 * "the API server did not answer … within N s" when the call exceeds `timeoutMs`.
 */
async function createBootstrapToken(kc, token, o = {}) {
    const expiration = new Date((o.now ?? new Date()).getTime() + (o.ttlMs ?? JOIN_TOKEN_TTL_MS));
    const body = bootstrapTokenSecret(token, {
        expiration,
        description: "kina/setup-cluster: lets this job's workers join; expires on its own",
    });
    const timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the API server did not answer the creation of bootstrap token ${token.id} within ${timeoutMs / 1000}s`)), timeoutMs);
    });
    try {
        await Promise.race([
            kc.makeApiClient(client_node_dist.CoreV1Api).createNamespacedSecret({ namespace: "kube-system", body }),
            timeout,
        ]);
    }
    finally {
        clearTimeout(timer);
    }
    return expiration;
}

// EXTERNAL MODULE: ./src/secrets.ts
var secrets = __webpack_require__(27194);
;// CONCATENATED MODULE: ./src/steps/join.ts







/**
 * The cluster CA (PEM) from the job's kubeconfig: the allowlisted one the action wrote
 * (builders/kubeconfig.ts), so workers pin the CA the action itself trusts. Throws when it has none.
 */
function clusterCaPem(kc) {
    const data = kc.getCurrentCluster()?.caData;
    if (!data)
        throw new Error("the kubeconfig has no certificate-authority-data to pin the workers' join to");
    return Buffer.from(data, "base64").toString("utf8");
}
/**
 * Joins each worker to the control plane at its VM address, in parallel:
 * - a fresh bootstrap token, masked before anything else, made valid by creating its Secret through the
 *   API (kube/bootstrap-token.ts, 15 min TTL): it is on no command line and in no file on the host;
 * - the CA pinned by its hash (`caCertHashes`), never `unsafeSkipCAVerification`;
 * - the JoinConfiguration goes to the worker on stdin into a 0600 file that the same exec as
 *   `kubeadm join` removes, whether the join worked or not.
 * No pause-image retag as on the control plane: a worker's `kubeadm join` pulls no images (its preflight
 * pulls only for a control-plane join: kubernetes/kubernetes cmd/kubeadm/app/cmd/phases/join/preflight.go).
 * Every join settles before the first failure (in worker order) is thrown, naming the worker.
 */
async function joinWorkers(cli, kc, controlPlane, workers) {
    if (!workers.length)
        return;
    const token = generateBootstrapToken();
    (0,secrets/* registerSecret */.cl)(token.value);
    (0,secrets/* registerSecret */.cl)(token.secret);
    const caCertHashes = [caCertHash(clusterCaPem(kc))];
    const expires = await createBootstrapToken(kc, token);
    core.info(`Bootstrap token ${token.id} created; it expires at ${expires.toISOString()}.`);
    const settled = await Promise.allSettled(workers.map(async (w) => {
        const config = renderJoinConfiguration({
            nodeName: w.name,
            nodeIP: w.ip,
            apiServerEndpoint: `${controlPlane.ip}:6443`,
            token: token.value,
            caCertHashes,
            ignorePreflightErrors: kubeadm_config/* IGNORED_PREFLIGHT_ERRORS */.H$,
        });
        await cli.writeFile(w.name, KUBEADM_JOIN_CONFIG_PATH, config, { mode: "0600" });
        const path = KUBEADM_JOIN_CONFIG_PATH;
        const r = await cli.exec(w.name, ["sh", "-c", `kubeadm join --config ${path}; rc=$?; rm -f ${path}; exit $rc`], {
            op: "kubeadm join",
            command: "kubeadm join",
            allowFailure: true,
            echo: true,
            display: `container exec ${w.name} kubeadm join --config ${path}`,
        });
        if (r.code !== 0) {
            const command = ["container", "exec", w.name, "kubeadm", "join", "--config", path];
            throw new errors/* CommandError */.Qd(command, r.code, r.stdout + r.stderr, `kubeadm join of ${w.name} failed (exit ${r.code}): ${lastLine(r.stderr || r.stdout)}. ` +
                `See ${w.name}/kubelet.log in the diagnostics.`);
        }
    }));
    const failed = settled.find((s) => s.status === "rejected");
    if (failed)
        throw failed.reason;
}
function lastLine(text) {
    const lines = text
        .trim()
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !/^To see the stack trace/.test(l));
    return lines.slice(-2).join(" | ") || "no output";
}


/***/ })

};
