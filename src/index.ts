/**
 * Troupe: an actor-model runtime with supervision trees for orchestrating AI agents and workflows.
 * The public entry: explicit named exports only.
 */
export { createSystem } from './runtime.js';
export type {
  CreateSystemOptions,
  SpawnOptions,
  SupervisorOptions,
  SupervisorRef,
  Termination,
  TreeNode,
  DurabilityStats,
  FinishedActor,
  RuntimeStats,
  ActorDescription,
  TroupeSystem,
  DeadLetters,
  StoredDeadLetterEntry,
} from './runtime/api.js';
export type { Journal } from './runtime/journal.js';
export type { ResultOptions } from './durable/durable-result.js';
export type { EscrowClient, EscrowDecision } from './runtime/escrow-client.js';
export {
  DEFAULT_ESCROW_ID,
  type EscrowSubmission,
  type EscrowItem,
  type EscrowCommand,
  type EscrowSubmitEvent,
  type EscrowDecisionEvent,
  type EscrowListEvent,
  type EscrowReceipt,
  type EscrowOutcome,
  type EscrowNotice,
  type EscrowBreachedEvent,
} from './escrow-protocol.js';
export { DURABLE_RETENTION_DEFAULTS } from './durable/finished-records.js';
export type { ActorRef, AskOptions, Subscription, WaitForOptions } from './system/actor-ref.js';
export type { LogicHandle, RegisterOptions } from './system/logic-registry.js';
export type { RestartType } from './system/parent.js';
export type { RuntimeEvent, RuntimeEventType, Directive } from './system/events.js';
export type { DeadLetter } from './system/dead-letters.js';
export type { TokenUsage, TraceEntry, TraceKind } from './trace-entry.js';
export { createManualClock, systemClock, type Clock, type ManualClock } from './system/clock.js';
export type { PolicyOptions, Decider } from './supervision/policy.js';
export type { Strategy } from './supervision/strategies.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export { defaultConfig, type RuntimeConfig, type ConfigOverrides, type MessageCheck } from './config.js';
export type { Logger, LogLevel } from './log/index.js';
export type { Transport, TransportMessage, TransportSubscription, TransportStatus } from './transport/transport.js';
export * from './errors.js';
export type { NodeInfo } from './cluster/membership.js';
export type { ActorInfo } from './cluster/actors-endpoint.js';
export type { RemoteInspection, RemoteInspectionHold, RemoteInspectionRefused } from './cluster/inspect-holds.js';
export type { InspectRefusal } from './cluster/inspect-endpoint.js';
export { natsPermissions, natsPermissionsConfig, systemStreams, type NatsPermissions } from './cluster/nats-permissions.js';
export * from './protocol.js';
export {
  createInspectionBus,
  publishInspection,
  inspectSubject,
  parseBatchMessage,
  MASKED,
  WIRE_VERSION,
  type InspectionBus,
  type InspectionSource,
  type InspectionBusOptions,
  type InspectionStats,
  type InspectionHold,
  type SealedBatch,
  type BatchSink,
  type PublishInspectionOptions,
  type ParsedBatch,
  type ParseBatchLimits,
} from './inspection/index.js';
export type * from './inspection/wire.js';
export { startObservability, type ObservabilityEndpoint, type ObservabilityOptions } from './observability/endpoint.js';
export { workflowTraceId } from './observability/tracing.js';
export { instrumentMetrics, type InstrumentOptions } from './observability/instruments.js';
export type { GaugeReading } from './observability/gauges.js';
// Types the public API names (so the API reference and a consumer's editor reach them).
export type { SupervisorPolicy } from './supervision/policy.js';
export type { EventLike } from './protocol.js';
export type { NatsConnectionOptions } from './transport/nats/connection-options.js';
export type { SupervisionDefaults } from './config.js';
export type { LogFn } from './log/index.js';
export type { InspectionState } from './inspection/bus.js';
export type { SnapshotStore, StoredValue, PutResult } from './persistence/snapshot-store.js';
export type * from './persistence/mailbox-log.js';
export type { TraceLog, TraceRecord, TraceReadOptions } from './persistence/trace-log.js';
export type { RequestOptions, SubscribeOptions } from './transport/transport.js';
export type { RuntimeEventListener } from './system/events.js';
export type { NatsTlsFiles } from './transport/nats/connection-options.js';
export type { TraceRecord as InspectionTraceRecord } from './inspection/wire.js';
export type { StopReason } from './system/parent.js';
