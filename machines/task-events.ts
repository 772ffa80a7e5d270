/**
 * The result events of a state's task (task.ts): `${TASK_DONE}.<task key>` with `output`, `${TASK_ERROR}.<task key>`
 * with `error`. Their own module, free of Node imports, so the inspector's chart model (bundled for the browser)
 * labels them by the same names.
 */
export const TASK_DONE = 'troupe.task.done';
export const TASK_ERROR = 'troupe.task.error';
