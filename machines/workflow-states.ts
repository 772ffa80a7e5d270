/**
 * The workflow's own states at the root of its chart, beside its top-level items (workflow.ts): no top-level item
 * may take these names (validate.ts), and the inspector draws every other root state in the steps' box.
 */
export const WORKFLOW_STATES: readonly string[] = ['completed', 'compensating', 'aborted'];
