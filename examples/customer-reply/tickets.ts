/**
 * The demo's batch: seven tickets, each showing one path. The faults are injected on purpose and named here.
 */
import type { CrmCustomer } from './crm-server.js';

export interface DemoTicket {
  /** What this ticket shows. */
  readonly scenario: string;
  /** The outcome the demo expects: `completed`, `completed via fallback`, `completed after approval`, `aborted` ... */
  readonly expect: 'completed' | 'fallback' | 'approved' | 'compensated' | 'malformed';
  readonly input: Record<string, unknown>;
}

export const CUSTOMERS: Readonly<Record<string, CrmCustomer>> = {
  'c-ana': { name: 'Ana', interactions: [
    { at: '2026-11-28', channel: 'email', text: 'Ordered the blue kettle.' },
    { at: '2026-12-01', channel: 'chat', text: 'I was charged twice for it.' },
    { at: '2026-12-03', channel: 'email', text: 'Still waiting for the refund, third time I write.' },
  ] },
  'c-bo': { name: 'Bo', interactions: [{ at: '2026-12-02', channel: 'chat', text: 'Can I change the delivery address?' }] },
  'c-chen': { name: 'Chen', interactions: [{ at: '2026-12-01', channel: 'phone', text: 'The lid arrived broken.' }, { at: '2026-12-02', channel: 'email', text: 'Sent photos of the broken lid.' }] },
  'c-dee': { name: 'Dee', interactions: [{ at: '2026-12-03', channel: 'chat', text: 'Where is my parcel?' }] },
  'c-eli': { name: 'Eli', interactions: [{ at: '2026-12-02', channel: 'email', text: 'Is the kettle dishwasher safe?' }] },
  'c-fay': { name: 'Fay', interactions: [{ at: '2026-12-03', channel: 'chat', text: 'I want a refund, this is unacceptable.' }, { at: '2026-12-04', channel: 'chat', text: 'Refund now please.' }] },
};

/** The CRM stalls on the first request for this customer (the `history` step times out and retries). */
export const SLOW_CRM_CUSTOMERS = ['c-bo'];
/** The drafting model's provider is down for these tickets (HTTP 503): the breaker opens and the fallback answers. */
export const OUTAGE_TICKETS = ['T-1003', 'T-1004'];

export const DEMO_BATCH: Readonly<Record<string, DemoTicket>> = {
  'T-1001': { scenario: 'angry customer, charged twice', expect: 'completed', input: { id: 'T-1001', customerId: 'c-ana', message: 'I was charged twice and nobody answers.' } },
  'T-1002': { scenario: 'CRM times out once', expect: 'completed', input: { id: 'T-1002', customerId: 'c-bo', message: 'Please change my delivery address.' } },
  'T-1003': { scenario: 'model provider down (503)', expect: 'fallback', input: { id: 'T-1003', customerId: 'c-chen', message: 'The lid of my kettle is broken.' } },
  'T-1004': { scenario: 'provider still down', expect: 'fallback', input: { id: 'T-1004', customerId: 'c-dee', message: 'Where is my parcel?' } },
  'T-1005': { scenario: 'malformed ticket', expect: 'malformed', input: { id: 'T-1005', customerId: '', message: 42 } },
  'T-1006': { scenario: 'unsure draft (0.72)', expect: 'approved', input: { id: 'T-1006', customerId: 'c-eli', message: 'Is it dishwasher safe, and can I return it?' } },
  'T-1007': { scenario: 'draft breaks a guideline', expect: 'compensated', input: { id: 'T-1007', customerId: 'c-fay', message: 'I want my money back.' } },
};
