/**
 * Inspection (L3, issue 5): runtime events and XState inspection -> bounded, batched, versioned wire records.
 * The wire types live in wire.ts (no runtime code: the browser UI imports them).
 */
export { createInspectionBus, InspectionBus, type InspectionSource, type InspectionBusOptions, type SealedBatch, type BatchSink, type InspectionStats, type InspectionHold } from './bus.js';
export { InspectionHistory, type InspectionHistoryOptions, type InspectionHistoryStats } from './history.js';
export { createMasker, MASKED, type Masker, type MaskRoot } from './mask.js';
export { publishInspection, inspectSubject, type PublishInspectionOptions } from './transport-sink.js';
export { parseBatchMessage, type ParsedBatch, type ParseBatchLimits } from './batch-message.js';
export * from './wire.js';
