/**
 * The execution trace in memory: every handoff and transition a workflow reports (`troupe.trace` emitted
 * events), queryable per workflow. Bounded: at most `perWorkflow` entries per workflow and `workflows`
 * workflows (the oldest workflow's trace is dropped first, and the drop is counted).
 */
export type TraceEntry = { readonly workflowId: string } & Record<string, unknown>;

export class TraceStore {
  private readonly traces = new Map<string, TraceEntry[]>();
  private droppedEntries = 0;

  constructor(
    private readonly perWorkflow = 10_000,
    private readonly workflows = 10_000,
  ) {}

  append(entry: TraceEntry): void {
    let list = this.traces.get(entry.workflowId);
    if (!list) {
      if (this.traces.size >= this.workflows) {
        const oldest = this.traces.keys().next().value as string;
        this.droppedEntries += this.traces.get(oldest)?.length ?? 0;
        this.traces.delete(oldest);
      }
      list = [];
      this.traces.set(entry.workflowId, list);
    }
    if (list.length >= this.perWorkflow) {
      this.droppedEntries++;
      return;
    }
    list.push(entry);
  }

  get(workflowId: string): readonly TraceEntry[] {
    return [...(this.traces.get(workflowId) ?? [])];
  }

  get dropped(): number {
    return this.droppedEntries;
  }
}
