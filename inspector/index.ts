/**
 * `troupe/inspector` (issue 5): the inspector server — live statecharts, the supervision tree, workflow
 * timelines, circuit breakers and the human escrow queue in the browser, served offline on loopback.
 */
export { startInspector, type Inspector, type InspectorOptions, type InspectorStats } from './server.js';
export type { ChannelStats } from './channel-stats.js';
export type { ClusterStats, ClusterLimits } from './cluster-relay.js';
export { DECISION_LIMITS } from './decisions.js';
export type { InspectionHistoryOptions, InspectionHistoryStats } from '../src/inspection/history.js';
