export const id = 778;
export const ids = [778];
export const modules = {

/***/ 40778:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   untaintNode: () => (/* binding */ untaintNode)
/* harmony export */ });
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(14358);
/* harmony import */ var _bounds_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(80186);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(83916);
/* harmony import */ var _kube_client_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(31934);




const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";
const ATTEMPTS = 5;
const TIMEOUT_MS = _bounds_js__WEBPACK_IMPORTED_MODULE_1__/* .OTHER_BOUNDS */ .l.untaint.seconds * 1000;
/**
 * Lets workloads schedule on the single node by removing the control-plane NoSchedule taint. Every
 * request and the whole step are bounded: an API server that accepts connections but never answers
 * would otherwise hold the job. Returns false when the taint was already gone.
 */
async function untaintNode(kc, nodeName, timeoutMs = TIMEOUT_MS) {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
        return await removeTaint(kc, nodeName, signal);
    }
    catch (err) {
        if (!signal.aborted)
            throw err;
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_2__/* .TimeoutError */ .MU(`removing the control-plane taint from ${nodeName}`, timeoutMs / 1000, "The API server accepts connections but does not answer: see the kube-apiserver and kubelet state in the diagnostics.", "did not finish");
    }
}
async function removeTaint(kc, nodeName, signal) {
    const api = kc.makeApiClient(_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.CoreV1Api);
    for (let attempt = 1;; attempt++) {
        const node = await api.readNode({ name: nodeName }, await (0,_kube_client_js__WEBPACK_IMPORTED_MODULE_3__/* .bounded */ .Mm)(signal));
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
            }, (0,_kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.setHeaderOptions)("Content-Type", _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.PatchStrategy.JsonPatch, await (0,_kube_client_js__WEBPACK_IMPORTED_MODULE_3__/* .bounded */ .Mm)(signal)));
            return true;
        }
        catch (err) {
            const code = (0,_errors_js__WEBPACK_IMPORTED_MODULE_2__/* .apiStatus */ .$T)(err)?.code;
            if (attempt >= ATTEMPTS || (code !== 409 && code !== 422))
                throw err;
        }
    }
}


/***/ })

};
