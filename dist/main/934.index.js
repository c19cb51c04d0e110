export const id = 934;
export const ids = [934];
export const modules = {

/***/ 31934:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   loadKubeConfig: () => (/* binding */ loadKubeConfig)
/* harmony export */ });
/* harmony import */ var _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(14358);

function loadKubeConfig(path) {
    const kc = new _kubernetes_client_node__WEBPACK_IMPORTED_MODULE_0__.KubeConfig();
    kc.loadFromFile(path);
    return kc;
}


/***/ })

};
