export const id = 778;
export const ids = [778];
export const modules = {

/***/ 40778:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   untaintNode: () => (/* binding */ untaintNode)
/* harmony export */ });
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(14358);
/* harmony import */ var _kube_errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(23646);


const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";
const ATTEMPTS = 5;
const TIMEOUT_MS = 30_000;
/**
 * Lets workloads schedule on the single node by removing the control-plane NoSchedule taint; bounded,
 * since an API server that accepts connections but never answers would otherwise hold the job.
 */
async function untaintNode(kc, nodeName, timeoutMs = TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the API server did not answer within ${timeoutMs / 1000}s`)), timeoutMs);
    });
    try {
        return await Promise.race([removeTaint(kc, nodeName), timeout]);
    }
    finally {
        clearTimeout(timer);
    }
}
async function removeTaint(kc, nodeName) {
    const api = kc.makeApiClient(_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.CoreV1Api);
    for (let attempt = 1;; attempt++) {
        const node = await api.readNode({ name: nodeName });
        const index = (node.spec?.taints ?? []).findIndex((t) => t.key === CONTROL_PLANE_TAINT);
        if (index < 0)
            return false;
        try {
            // "test" makes the patch fail rather than remove another taint when the list changed meanwhile
            // (the node lifecycle controller drops node.kubernetes.io/not-ready as the node turns Ready); then
            // read again. Only the key is tested: client-node re-serialises timeAdded differently.
            await api.patchNode({
                name: nodeName,
                body: [
                    { op: "test", path: `/spec/taints/${index}/key`, value: CONTROL_PLANE_TAINT },
                    { op: "remove", path: `/spec/taints/${index}` },
                ],
            }, (0,_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.setHeaderOptions)("Content-Type", _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.PatchStrategy.JsonPatch));
            return true;
        }
        catch (err) {
            const code = (0,_kube_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .apiStatus */ .$)(err)?.code;
            if (attempt >= ATTEMPTS || (code !== 409 && code !== 422))
                throw err;
        }
    }
}


/***/ })

};
