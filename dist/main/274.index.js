export const id = 274;
export const ids = [274];
export const modules = {

/***/ 26274:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   loadImages: () => (/* binding */ loadImages)
/* harmony export */ });
/** Streams host images into the node's containerd (k8s.io namespace) and checks the CRI sees them. */
async function loadImages(cli, node, images) {
    for (const image of images) {
        await cli.pipeImageInto(image, node.name, ["ctr", "-n", "k8s.io", "images", "import", "-"]);
        const seen = await cli.exec(node.name, ["crictl", "inspecti", image], { allowFailure: true });
        if (seen.code !== 0)
            throw new Error(`image ${image} was imported but the CRI does not list it: ${seen.stderr.trim()}`);
    }
}


/***/ })

};
