export {
  AbortableClaim,
  checkConsumeOptions,
  checkJobQuery,
  checkNewJobs,
  checkProgress,
  settleOutcome,
} from "./adapter-kit.js";
export type { AutoscaleOptions, WorkerConcurrency } from "./autoscale.js";
export type { ConveyorConfig, ResolvedBackends, WorkerConfig } from "./config.js";
export { CONFIG_FILES, ENV_VARS, findConfigFile, loadConfig, resolveBackends } from "./config.js";
export type { Cache, CacheEntry, CacheFactory, CacheSetOptions, CacheStats } from "./contracts/cache.js";
export type {
  AddResult,
  BackoffOptions,
  JobEvent,
  JobEventType,
  JobRecord,
  JobState,
  NewJob,
  Progress,
  SerializedError,
} from "./contracts/job.js";
export { JOB_STATES, TERMINAL_STATES } from "./contracts/job.js";
export type {
  ActiveJob,
  CancelResult,
  ConsumeOptions,
  Consumer,
  JobCounts,
  JobEventListener,
  JobHandler,
  JobQuery,
  Outcome,
  PurgeOptions,
  QueueAdapter,
  QueueCapabilities,
  QueueFactory,
  QueueInfo,
} from "./contracts/queue.js";
export type {
  RateLimit,
  RateLimiter,
  RateLimiterFactory,
  RateLimitResult,
} from "./contracts/rate-limiter.js";
export type {
  LeaderInfo,
  LeaderLease,
  MissedTickPolicy,
  ScheduleAdvance,
  ScheduleDefinition,
  ScheduleJobOptions,
  ScheduleRecord,
  ScheduleStore,
  ScheduleUpsert,
  ScheduleUpsertResult,
} from "./contracts/schedule.js";
export type {
  Logger,
  Plugin,
  PluginOptions,
  Resource,
  ResourceContext,
  Task,
  TaskCacheOptions,
  TaskContext,
  TaskInput,
  TaskOptions,
  TaskOutput,
  TaskRateLimit,
  TaskSandbox,
} from "./contracts/task.js";
export type {
  CacheWorkerControlOptions,
  WatchWorkerControlOptions,
  WorkerCommand,
  WorkerCommandName,
  WorkerControl,
  WorkerReply,
} from "./control.js";
export { createCacheWorkerControl, watchWorkerControl } from "./control.js";
export type { BulkItem, Conveyor, EnqueueOptions, RegisteredTask } from "./conveyor.js";
export { createConveyor } from "./conveyor.js";
export { defineConfig, definePlugin, defineResource, defineTask } from "./define.js";
export type {
  BackendKind,
  BackendReport,
  DiagnoseContext,
  DiagnoseOptions,
  Diagnosis,
  DiagnosticCheck,
  DiagnosticReport,
  DiagnosticStatus,
} from "./diagnostics.js";
export { diagnoseBackends, worstStatus } from "./diagnostics.js";
export type { ConveyorErrorOptions, ValidationIssue } from "./errors.js";
export {
  AdapterNotInstalledError,
  BackendUnavailableError,
  ClosedError,
  ConfigError,
  ConveyorError,
  IllegalTransitionError,
  isConveyorError,
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  JobStateError,
  LeaseLostError,
  PathNotAllowedError,
  SoftTimeoutError,
  serializeError,
  TimeoutError,
  UnknownTaskError,
  UnrecoverableError,
  UnsupportedFeatureError,
  ValidationError,
  WorkerClosingError,
} from "./errors.js";
export type { EnqueuedJob, EventsOptions, JobHandle, JobHandleOptions, ResultOptions } from "./handle.js";
export { createEnqueuedJob, createJobHandle } from "./handle.js";
export type { InsuranceOptions } from "./insurance.js";
export { isOutageError, withInsurance } from "./insurance.js";
export type { LogLevel } from "./logger.js";
export { childLogger, consoleLogger, silentLogger } from "./logger.js";
export type { PathRootsOptions, ResolveInputOptions } from "./paths.js";
export { resolveInputPath, resolveOutputPath } from "./paths.js";
export type { AdapterContext, AdapterModule, AdapterRegistration } from "./registry.js";
export { createFromUrl, loadAdapterModule, registerAdapter, registeredSchemes } from "./registry.js";
export { ResourcePool } from "./resources.js";
export type { SandboxPoolOptions, SandboxRun } from "./sandbox.js";
export { SandboxCrashedError, SandboxPool } from "./sandbox.js";
export { createLocalScheduleStore } from "./schedule-store.js";
export type { Scheduler, SchedulerOptions } from "./scheduler.js";
export {
  createScheduler,
  nextTick,
  normalizeSchedule,
  SCHEDULE_META,
  scheduleJobId,
} from "./scheduler.js";
export { validate } from "./schema.js";
export {
  applyOutcome,
  assertTransition,
  backoffDelayMs,
  cancelRecord,
  canTransition,
  claimRecord,
  compactRecord,
  compareReady,
  createRecord,
  decideAfterError,
  isPending,
  isReady,
  isTerminal,
  outcomeEvent,
  promoteRecord,
  releaseRecord,
  retryRecord,
  TRANSITIONS,
} from "./state-machine.js";
export type { TieredCache, TieredCacheOptions, TieredCacheStats, TierStats } from "./tiered-cache.js";
export { createTieredCache, splitCacheUrls } from "./tiered-cache.js";
export type { TraceOperationOptions, TraceSpan } from "./tracing.js";
export { traceOperation } from "./tracing.js";
export { maskUrl, maskUrlsIn, parseUrl, urlScheme } from "./url.js";
export type {
  CloseOptions,
  HandlerContext,
  RecycleInfo,
  Worker,
  WorkerExit,
  WorkerOptions,
} from "./worker.js";
export { createJobHandler } from "./worker.js";
export type {
  CacheWorkerRegistryOptions,
  HeartbeatOptions,
  HeartbeatSubject,
  WorkerInfo,
  WorkerRegistry,
} from "./workers.js";
export { createCacheWorkerRegistry, startHeartbeat } from "./workers.js";
