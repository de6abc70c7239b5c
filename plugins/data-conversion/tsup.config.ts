import { packageConfig } from "../../tsup.base";

// DuckDB is a native module: loaded from node_modules at run time, never bundled.
export default packageConfig({ external: ["@duckdb/node-api"] });
