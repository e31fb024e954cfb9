// Entry of tools/device/fp8_generate.sh's bundle: bench/fp8_fidelity.ts's command line. The bundle defines
// import.meta.url as a fixed URL so that no bundled module's "run when this file is the script" guard fires
// (they would all see the bundle's own URL); the addon comes from COSMOS_NATIVE_PATH.
import { main } from "../../bench/fp8_fidelity.ts";

await main();
