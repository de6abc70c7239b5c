import { packageConfig } from "../../tsup.base";

// vitest is a peer: the conformance suites call the consumer's copy of describe/it/expect.
export default packageConfig({ external: ["vitest", "@conveyor/core"] });
