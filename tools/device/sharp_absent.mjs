// Stands in for sharp in the device bundles (tools/device/generate_e2e.sh): the device call cannot carry sharp's
// libvips next to node and the tree, and the paths those drivers run never decode or encode images with it.
export default function sharp() {
  throw new Error("sharp is not available in this device bundle: pass pre-decoded pixels (GEN_E2E_MEDIA)");
}
