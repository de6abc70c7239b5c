/**
 * What Conveyor's Redis adapters (`@conveyor/redis`, `@conveyor/bullmq`, `@conveyor/bee-queue`)
 * share, whatever their client library: URL parsing, reconnect backoff, backend errors and the
 * persistence warning. For adapter authors; apps use the adapters.
 *
 * @packageDocumentation
 */
export {
  backoffMs,
  type PersistenceCheck,
  type PersistenceProblem,
  type PersistenceSettings,
  persistenceProblems,
  toBackendError,
  warnAboutPersistence,
} from "./connection.js";
export { diagnoseRedisServer, type RedisProbe, type RedisVersionNeeds } from "./diagnose.js";
export {
  givenClientTarget,
  parseRedisUrl,
  positiveParam,
  type RedisEndpoint,
  type RedisTarget,
  type RedisUrlOptions,
} from "./url.js";
